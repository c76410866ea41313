{{/* The chart's name, or nameOverride; at most 63 characters (a DNS label). */}}
{{- define "opx.name" -}}
{{- .Values.nameOverride | default .Chart.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* Resource name prefix: the release name, followed by the chart name unless the release already has it. */}}
{{- define "opx.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- $name := include "opx.name" . -}}
{{- if contains $name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{/* Labels on every resource. */}}
{{- define "opx.labels" -}}
app.kubernetes.io/name: {{ include "opx.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end -}}

{{/* Selector labels of one component (api or worker): pass (dict "root" $ "component" "api"). */}}
{{- define "opx.selectorLabels" -}}
app.kubernetes.io/name: {{ include "opx.name" .root }}
app.kubernetes.io/instance: {{ .root.Release.Name }}
app.kubernetes.io/component: {{ .component }}
{{- end -}}

{{/* The Secret the pods read: the one given, or the chart's own. */}}
{{- define "opx.secretName" -}}
{{- .Values.existingSecret | default (printf "%s-env" (include "opx.fullname" .)) -}}
{{- end -}}

{{- define "opx.image" -}}
{{- printf "%s:%s" .Values.image.repository (.Values.image.tag | default .Chart.AppVersion) -}}
{{- end -}}

{{/*
Environment of one container: the Secret, then the plain settings. Pass (dict "root" $ "extra" (list …))
for settings only that container gets.
*/}}
{{- define "opx.env" -}}
envFrom:
  - secretRef:
      name: {{ include "opx.secretName" .root }}
env:
  - name: OPX_DATA_DIR
    value: /var/lib/opx
  {{- range $name, $value := .root.Values.config }}
  - name: {{ $name }}
    value: {{ $value | toString | quote }}
  {{- end }}
  {{- with .extra }}
  {{- toYaml . | nindent 2 }}
  {{- end }}
  {{- with .root.Values.extraEnv }}
  {{- toYaml . | nindent 2 }}
  {{- end }}
{{- end -}}

{{/* The `opx migrate` init container (used when migrateOnStart is on). */}}
{{- define "opx.migrateInitContainer" -}}
initContainers:
  - name: migrate
    image: {{ include "opx.image" . }}
    imagePullPolicy: {{ .Values.image.pullPolicy }}
    args: ["migrate"]
    {{- include "opx.env" (dict "root" .) | nindent 4 }}
    securityContext:
      {{- toYaml .Values.securityContext | nindent 6 }}
    volumeMounts:
      - name: data
        mountPath: /var/lib/opx
      - name: tmp
        mountPath: /tmp
{{- end -}}

{{/* Pod-level settings both Deployments share. */}}
{{- define "opx.podCommon" -}}
automountServiceAccountToken: false
{{- with .Values.imagePullSecrets }}
imagePullSecrets:
  {{- toYaml . | nindent 2 }}
{{- end }}
securityContext:
  {{- toYaml .Values.podSecurityContext | nindent 2 }}
{{- with .Values.nodeSelector }}
nodeSelector:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .Values.tolerations }}
tolerations:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .Values.affinity }}
affinity:
  {{- toYaml . | nindent 2 }}
{{- end }}
volumes:
  # With the keys in the Secret, PostgreSQL mode writes nothing here; it stays writable for safety.
  - name: data
    emptyDir: {}
  - name: tmp
    emptyDir: {}
{{- end -}}
