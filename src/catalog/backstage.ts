import { parseAllDocuments } from 'yaml';
import { formatPath } from '../domain/errors.js';
import {
  cleanLinks,
  clip,
  invalid,
  isRecord,
  type LinkCandidate,
  type Path,
  type PayloadError,
  preview,
  raise,
  readArray,
  readOptionalRecord,
  readOptionalString,
  readRecord,
  readString,
  toPayloadError,
} from '../domain/payload.js';
import { type NormalizedServiceInput, serviceInputSchema } from '../domain/service.js';

export const TIER_ANNOTATION = 'opx.dev/tier';
export const CUSTOMER_FACING_ANNOTATION = 'opx.dev/customer-facing';
export const RUNBOOK_ANNOTATION = 'opx.dev/runbook';

const SERVICE_KINDS = new Map<string, NormalizedServiceInput['kind']>([
  ['component', 'component'],
  ['resource', 'resource'],
]);

export interface SkippedEntity {
  kind: string;
  name: string;
  reason: string;
}

export type BackstageCatalogResult =
  | { ok: true; services: NormalizedServiceInput[]; skipped: SkippedEntity[] }
  | { ok: false; error: PayloadError };

/**
 * `component:default/payments-db`, `resource:orders-db` and `payments` all name `payments-db`-style
 * services: OPX service names are flat, so the kind and namespace are dropped.
 */
export function entityRefName(ref: string): string {
  const withoutKind = ref.includes(':') ? ref.slice(ref.indexOf(':') + 1) : ref;
  return withoutKind.slice(withoutKind.lastIndexOf('/') + 1).trim();
}

/** Where an annotation sits, quoted because annotation keys contain dots and slashes. */
function annotationPath(documentIndex: number, key: string): string {
  return `${formatPath(['documents', documentIndex, 'metadata', 'annotations'])}[${JSON.stringify(key)}]`;
}

function readTier(value: unknown, documentIndex: number): number | undefined {
  if (value === undefined || value === null) return undefined;
  const text =
    typeof value === 'number' ? String(value) : typeof value === 'string' ? value.trim() : undefined;
  if (text !== undefined && /^[1-4]$/.test(text)) return Number(text);
  const path = annotationPath(documentIndex, TIER_ANNOTATION);
  return raise({
    code: 'invalid_request',
    message: `${path} must be 1, 2, 3 or 4 (1 is the most critical; got ${preview(value)})`,
    path,
  });
}

function readCustomerFacing(value: unknown, documentIndex: number): boolean | undefined {
  if (value === undefined || value === null) return undefined;
  if (value === true || value === 'true') return true;
  if (value === false || value === 'false') return false;
  const path = annotationPath(documentIndex, CUSTOMER_FACING_ANNOTATION);
  return raise({
    code: 'invalid_request',
    message: `${path} must be "true" or "false" (got ${preview(value)})`,
    path,
  });
}

function readRunbooks(metadata: Record<string, unknown>, annotations: Record<string, unknown>, base: Path) {
  const candidates: LinkCandidate[] = [];
  const links = metadata.links ?? [];
  readArray(links, [...base, 'metadata', 'links']).forEach((item, index) => {
    const link = readRecord(item, [...base, 'metadata', 'links', index]);
    const title = typeof link.title === 'string' ? link.title : '';
    const type = typeof link.type === 'string' ? link.type : '';
    if (/runbook/i.test(`${title} ${type}`)) candidates.push({ href: link.url, text: title || 'runbook' });
  });
  candidates.push({ href: annotations[RUNBOOK_ANNOTATION], text: 'runbook' });
  return cleanLinks(candidates, 50);
}

/** Where each service field comes from in the entity, so a schema error points into the YAML. */
const FIELD_SOURCES: Record<string, readonly string[]> = {
  name: ['metadata', 'name'],
  description: ['metadata', 'description'],
  runbooks: ['metadata', 'links'],
  type: ['spec', 'type'],
  owner: ['spec', 'owner'],
  lifecycle: ['spec', 'lifecycle'],
  dependsOn: ['spec', 'dependsOn'],
};

function entityToService(
  entity: Record<string, unknown>,
  kind: NormalizedServiceInput['kind'],
  name: string,
  documentIndex: number,
): NormalizedServiceInput {
  const base: Path = ['documents', documentIndex];
  const metadata = readRecord(entity.metadata, [...base, 'metadata']);
  const spec = readOptionalRecord(entity.spec, [...base, 'spec']) ?? {};
  const annotations = readOptionalRecord(metadata.annotations, [...base, 'metadata', 'annotations']) ?? {};
  const dependsOn = readArray(spec.dependsOn ?? [], [...base, 'spec', 'dependsOn']).map((ref, index) =>
    entityRefName(readString(ref, [...base, 'spec', 'dependsOn', index])),
  );
  const description = readOptionalString(metadata.description, [...base, 'metadata', 'description']);
  const candidate = {
    name,
    kind,
    type: readOptionalString(spec.type, [...base, 'spec', 'type']),
    tier: readTier(annotations[TIER_ANNOTATION], documentIndex),
    owner: readOptionalString(spec.owner, [...base, 'spec', 'owner']),
    lifecycle: readOptionalString(spec.lifecycle, [...base, 'spec', 'lifecycle']),
    customerFacing: readCustomerFacing(annotations[CUSTOMER_FACING_ANNOTATION], documentIndex),
    // Descriptions are prose; trimming one is better than refusing the whole catalog.
    description: description === undefined ? undefined : clip(description, 2000),
    dependsOn: [...new Set(dependsOn)].filter((dependency) => dependency !== ''),
    runbooks: readRunbooks(metadata, annotations, base),
  };
  const parsed = serviceInputSchema.safeParse(
    Object.fromEntries(Object.entries(candidate).filter(([, value]) => value !== undefined)),
  );
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const [field, ...rest] = issue?.path ?? [];
    const source = typeof field === 'string' ? (FIELD_SOURCES[field] ?? [field]) : [];
    const path = formatPath([...base, ...source, ...rest]);
    raise({ code: 'invalid_request', message: `${path}: ${issue?.message ?? 'invalid value'}`, path });
  }
  return parsed.data;
}

function firstLine(text: string): string {
  return (text.split('\n', 1)[0] ?? text).trim();
}

function parseCatalog(yamlText: unknown): { services: NormalizedServiceInput[]; skipped: SkippedEntity[] } {
  if (typeof yamlText !== 'string') invalid(`the catalog must be YAML text (got ${preview(yamlText)})`);
  const documents = parseAllDocuments(yamlText);
  if (!Array.isArray(documents)) return { services: [], skipped: [] };
  const services: NormalizedServiceInput[] = [];
  const skipped: SkippedEntity[] = [];
  const seen = new Map<string, number>();
  documents.forEach((document, documentIndex) => {
    const syntaxError = document.errors[0];
    if (syntaxError !== undefined) {
      const position = syntaxError.linePos?.[0];
      // The yaml package appends its own " at line L, column C:" and a code excerpt; state it once, plainly.
      const reason = firstLine(syntaxError.message).replace(/\s+at line \d+, column \d+:?$/, '');
      const at = position === undefined ? '' : ` at line ${position.line}, column ${position.col}`;
      invalid(`YAML syntax error${at} (documents[${documentIndex}]): ${reason}`, [
        'documents',
        documentIndex,
      ]);
    }
    const entity: unknown = document.toJS();
    // An empty document (a trailing `---`, or only comments) is not an entity; skip it quietly.
    if (entity === null || entity === undefined) return;
    if (!isRecord(entity)) {
      invalid(
        `documents[${documentIndex}] must be a Backstage entity (a mapping with apiVersion, kind and metadata)`,
        ['documents', documentIndex],
      );
    }
    const kindText = readString(entity.kind, ['documents', documentIndex, 'kind']);
    const metadata = readRecord(entity.metadata, ['documents', documentIndex, 'metadata']);
    const name = readString(metadata.name, ['documents', documentIndex, 'metadata', 'name']);
    const kind = SERVICE_KINDS.get(kindText.trim().toLowerCase());
    if (kind === undefined) {
      skipped.push({
        kind: kindText,
        name,
        reason: `${kindText} entities do not describe a service OPX monitors`,
      });
      return;
    }
    const service = entityToService(entity, kind, name, documentIndex);
    const earlier = seen.get(service.name);
    if (earlier !== undefined) {
      invalid(
        `service name "${service.name}" appears in documents[${earlier}] and documents[${documentIndex}]; OPX service names must be unique across kinds and namespaces`,
        ['documents', documentIndex, 'metadata', 'name'],
      );
    }
    seen.set(service.name, documentIndex);
    services.push(service);
  });
  return { services, skipped };
}

/**
 * Reads a Backstage catalog file (one or more YAML documents). Component and Resource entities become
 * services; every other kind is reported in `skipped` so the caller can show what was ignored.
 */
export function parseBackstageCatalog(yamlText: string): BackstageCatalogResult {
  try {
    return { ok: true, ...parseCatalog(yamlText) };
  } catch (error) {
    return { ok: false, error: toPayloadError(error) };
  }
}
