/**
 * Deterministic Prometheus-style alert traffic: what a fleet of Prometheus servers posts to
 * `POST /api/v2/alerts`. Every client gets its own generator and its own slice of the label space, so
 * an alert's deliveries are ordered (one request in flight per client) and the outcome OPX should
 * store can be computed exactly, whatever the interleaving between clients.
 */

/** A uniform [0, 1) generator: a Weyl sequence through the murmur3 finalizer; small, fast, good enough. */
export function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x9e3779b9) >>> 0;
    let mixed = state;
    mixed = Math.imul(mixed ^ (mixed >>> 16), 0x85ebca6b);
    mixed = Math.imul(mixed ^ (mixed >>> 13), 0xc2b2ae35);
    mixed ^= mixed >>> 16;
    return (mixed >>> 0) / 0x1_0000_0000;
  };
}

const DOMAINS = [
  'checkout',
  'payments',
  'cart',
  'search',
  'catalog',
  'inventory',
  'shipping',
  'orders',
  'accounts',
  'auth',
  'billing',
  'notifications',
  'recommendations',
  'reviews',
  'pricing',
  'fraud',
  'ledger',
  'gateway',
  'media',
  'profile',
] as const;
const ROLES = [
  'api',
  'worker',
  'db',
  'cache',
  'frontend',
  'consumer',
  'scheduler',
  'proxy',
  'indexer',
  'exporter',
] as const;
const REGIONS = ['eu-west-1', 'us-east-1', 'ap-southeast-2'] as const;

/** 200 service names such as `checkout-api`, one per domain and role. */
export const SERVICES: readonly string[] = DOMAINS.flatMap((domain) =>
  ROLES.map((role) => `${domain}-${role}`),
);

interface AlertRule {
  alertname: string;
  severity: 'critical' | 'warning' | 'info';
  /** Relative frequency; with these weights about 4% of new alerts are critical, 63% warning, 33% info. */
  weight: number;
  summary: string;
}

const RULES: readonly AlertRule[] = [
  { alertname: 'HighErrorRate', severity: 'critical', weight: 2, summary: '5xx ratio above 5% on {service}' },
  { alertname: 'TargetDown', severity: 'critical', weight: 1, summary: '{instance} of {service} is down' },
  {
    alertname: 'SLOBurnRateFast',
    severity: 'critical',
    weight: 1,
    summary: '{service} burns its error budget 14x too fast',
  },
  {
    alertname: 'HighLatencyP99',
    severity: 'warning',
    weight: 14,
    summary: 'p99 latency of {service} above 800 ms',
  },
  {
    alertname: 'PodCrashLooping',
    severity: 'warning',
    weight: 10,
    summary: '{instance} restarted 5 times in 10 minutes',
  },
  {
    alertname: 'PodNotReady',
    severity: 'warning',
    weight: 10,
    summary: '{instance} not ready for 15 minutes',
  },
  {
    alertname: 'MemoryPressure',
    severity: 'warning',
    weight: 8,
    summary: '{instance} above 90% of its memory limit',
  },
  {
    alertname: 'DiskWillFillIn4Hours',
    severity: 'warning',
    weight: 6,
    summary: 'disk on {instance} fills within 4 hours',
  },
  {
    alertname: 'QueueBacklogGrowing',
    severity: 'warning',
    weight: 8,
    summary: 'backlog of {service} grew for 20 minutes',
  },
  {
    alertname: 'SLOBurnRateSlow',
    severity: 'warning',
    weight: 7,
    summary: '{service} burns its error budget 3x too fast',
  },
  {
    alertname: 'CPUThrottlingHigh',
    severity: 'info',
    weight: 14,
    summary: '{instance} throttled 40% of the time',
  },
  {
    alertname: 'CertificateExpiringSoon',
    severity: 'info',
    weight: 5,
    summary: 'certificate of {service} expires in 20 days',
  },
  {
    alertname: 'ReplicaMismatch',
    severity: 'info',
    weight: 8,
    summary: '{service} runs fewer replicas than desired',
  },
  {
    alertname: 'DeploymentGenerationMismatch',
    severity: 'info',
    weight: 6,
    summary: 'rollout of {service} is stuck',
  },
];
const TOTAL_WEIGHT = RULES.reduce((sum, rule) => sum + rule.weight, 0);

/**
 * Shares of each batch. Prometheus re-sends every firing alert each minute, so most traffic repeats
 * alerts already open; it also keeps re-sending a resolved alert for 15 minutes, which is `resend`.
 */
export const BATCH_MIX = {
  /** A label set never sent before: a new signal, rule matching and detection. */
  fresh: 0.15,
  /** An alert that fired before and resolved fires again (flapping): a new signal for the same fingerprint. */
  refire: 0.03,
  /** A resolve of an open alert. */
  resolve: 0.15,
  /** The same resolve sent again. */
  resend: 0.05,
  /** Everything else repeats an open alert: dedup only. */
} as const;

/** How often Prometheus re-sends a resolve, scaled down from 15 so the resolved pool turns over in a short run. */
const RESENDS_PER_RESOLVE = 3;
/** Resolves wait until this many alerts are open, so early batches are not mostly resolves of a tiny pool. */
const MIN_OPEN_BEFORE_RESOLVING = 300;

interface Identity {
  /** Unique across clients; stands for the fingerprint, since distinct label sets have distinct fingerprints. */
  key: string;
  startsAt: string;
  service: string;
  severity: AlertRule['severity'];
  labels: Record<string, string>;
  summary: string;
  firingJson: string;
  resolvedJson: string;
  resendsLeft: number;
}

export interface Delivery {
  key: string;
  /** The activation's startsAt: a resolve re-sent for the same activation updates the stored resolve. */
  startsAt: string;
  service: string;
  severity: AlertRule['severity'];
  firing: boolean;
}

export interface Batch {
  /** The exact request body, a JSON array of alerts. */
  body: string;
  deliveries: Delivery[];
}

export interface GeneratorOptions {
  seed: number;
  client: number;
  batchSize: number;
  /** Reference time: firing alerts end an hour after it, resolved ones ended a second before it. */
  epochMs: number;
}

/** One client's endless, reproducible stream of alert batches. */
export class AlertGenerator {
  readonly #random: () => number;
  readonly #options: GeneratorOptions;
  readonly #open: Identity[] = [];
  readonly #resolved: Identity[] = [];
  readonly #firingEndsAt: string;
  readonly #resolvedEndsAt: string;
  #serial = 0;

  constructor(options: GeneratorOptions) {
    this.#options = options;
    // Distinct streams per client even for adjacent seeds.
    this.#random = seededRandom(
      Math.imul(options.seed ^ 0x5bd1e995, 0x27d4eb2d) + options.client * 0x9e3779b9,
    );
    this.#firingEndsAt = new Date(options.epochMs + 3600_000).toISOString();
    this.#resolvedEndsAt = new Date(options.epochMs - 1000).toISOString();
  }

  next(): Batch {
    const size = this.#options.batchSize;
    const resolving = this.#open.length >= MIN_OPEN_BEFORE_RESOLVING;
    const wantResolve = resolving ? Math.round(size * BATCH_MIX.resolve) : 0;
    const wantRefire = Math.round(size * BATCH_MIX.refire);
    const wantResend = Math.round(size * BATCH_MIX.resend);
    const wantFresh = Math.round(size * BATCH_MIX.fresh);

    // Distinct identities per batch, as Prometheus never sends one alert twice in a request.
    const fromResolved = this.#take(this.#resolved, Math.min(wantRefire + wantResend, this.#resolved.length));
    const refires = fromResolved.slice(0, wantRefire);
    const resends = fromResolved.slice(wantRefire);
    const wantRepeat = Math.max(0, size - wantFresh - wantResolve - refires.length - resends.length);
    const fromOpen = this.#take(this.#open, Math.min(wantResolve + wantRepeat, this.#open.length));
    const resolves = fromOpen.slice(0, wantResolve);
    const repeats = fromOpen.slice(wantResolve);
    const freshCount = size - refires.length - resends.length - fromOpen.length;
    const fresh = Array.from({ length: freshCount }, () => this.#newIdentity());

    const parts: string[] = [];
    const deliveries: Delivery[] = [];
    const add = (identity: Identity, firing: boolean) => {
      parts.push(firing ? identity.firingJson : identity.resolvedJson);
      deliveries.push({
        key: identity.key,
        startsAt: identity.startsAt,
        service: identity.service,
        severity: identity.severity,
        firing,
      });
    };
    for (const identity of fresh) {
      add(identity, true);
      this.#open.push(identity);
    }
    for (const identity of repeats) {
      add(identity, true);
      this.#open.push(identity);
    }
    for (const identity of refires) {
      this.#activate(identity);
      add(identity, true);
      this.#open.push(identity);
    }
    for (const identity of resolves) {
      add(identity, false);
      identity.resendsLeft = RESENDS_PER_RESOLVE;
      this.#resolved.push(identity);
    }
    for (const identity of resends) {
      add(identity, false);
      identity.resendsLeft -= 1;
      // After its last resend Prometheus forgets the alert; it stays in the refire pool meanwhile.
      if (identity.resendsLeft > 0) this.#resolved.push(identity);
    }
    return { body: `[${parts.join(',')}]`, deliveries };
  }

  /** Removes `count` random entries from `pool` (swap-remove, so it stays O(count)). */
  #take(pool: Identity[], count: number): Identity[] {
    const out: Identity[] = [];
    for (let index = 0; index < count; index += 1) {
      const position = Math.floor(this.#random() * pool.length);
      out.push(pool[position]!);
      pool[position] = pool[pool.length - 1]!;
      pool.pop();
    }
    return out;
  }

  #pick<T>(items: readonly T[]): T {
    return items[Math.floor(this.#random() * items.length)]!;
  }

  #pickRule(): AlertRule {
    let roll = this.#random() * TOTAL_WEIGHT;
    for (const rule of RULES) {
      roll -= rule.weight;
      if (roll < 0) return rule;
    }
    return RULES[RULES.length - 1]!;
  }

  #newIdentity(): Identity {
    const rule = this.#pickRule();
    const service = this.#pick(SERVICES);
    const serial = this.#serial;
    this.#serial += 1;
    const instance = `${service}-${this.#options.client}-${serial.toString(36)}:9100`;
    const labels = {
      alertname: rule.alertname,
      service,
      severity: rule.severity,
      env: 'prod',
      region: REGIONS[SERVICES.indexOf(service) % REGIONS.length]!,
      namespace: service.split('-')[0]!,
      job: service,
      instance,
    };
    const identity: Identity = {
      key: `${this.#options.client}:${serial}`,
      service,
      severity: rule.severity,
      labels,
      summary: rule.summary.replace('{service}', service).replace('{instance}', instance),
      startsAt: '',
      firingJson: '',
      resolvedJson: '',
      resendsLeft: 0,
    };
    this.#activate(identity);
    return identity;
  }

  /**
   * Serialises the alert once per activation, so the send loop only joins strings. A refire is a new
   * activation, and Prometheus gives it a new startsAt.
   */
  #activate(identity: Identity): void {
    const { labels } = identity;
    // Activated between 1 and 30 minutes before the run, inside the detection windows of the default rules.
    const startsAt = new Date(
      this.#options.epochMs - 60_000 - Math.floor(this.#random() * 29 * 60_000),
    ).toISOString();
    const base = {
      labels,
      annotations: {
        summary: identity.summary,
        description: `${labels.alertname} on ${labels.instance} (${labels.region}); see the runbook for first steps.`,
        runbook_url: `https://runbooks.example.com/${labels.alertname!.toLowerCase()}`,
      },
      startsAt,
      generatorURL: `http://prometheus-${labels.region}:9090/graph?g0.expr=ALERTS%7Balertname%3D%22${labels.alertname}%22%7D`,
    };
    identity.startsAt = startsAt;
    identity.firingJson = JSON.stringify({ ...base, endsAt: this.#firingEndsAt });
    identity.resolvedJson = JSON.stringify({ ...base, endsAt: this.#resolvedEndsAt });
  }
}

/**
 * What OPX should hold after a sequence of acknowledged batches, following its dedup rules
 * (src/ingest/pipeline.ts): a firing alert with no open signal for its fingerprint inserts a signal,
 * with one open bumps `occurrences`; a resolve closes the open signal; with none open, a re-sent
 * resolve of an activation already stored bumps that row, and any other inserts an already-resolved
 * signal "for the record".
 */
export class SignalModel {
  readonly #open = new Set<string>();
  readonly #seen = new Set<string>();
  readonly #seenFiring = new Set<string>();
  /** Activations (key and startsAt) stored as resolved. */
  readonly #resolved = new Set<string>();
  rows = 0;
  occurrences = 0;
  firingDeliveries = 0;
  resolvedDeliveries = 0;
  /** Resolves of activations OPX never saw fire, each stored once as an already-resolved row. */
  recordOnlyResolvedRows = 0;
  /** Services that got a new critical firing signal: the `critical-signal` rule must have opened an incident. */
  readonly criticalServices = new Set<string>();
  /** Batches that got no answer: they may or may not be stored, so the counts above are no longer exact. */
  uncertainBatches = 0;

  markUncertain(): void {
    this.uncertainBatches += 1;
  }

  apply(deliveries: readonly Delivery[]): void {
    for (const delivery of deliveries) {
      if (delivery.firing) {
        this.firingDeliveries += 1;
        this.#seen.add(delivery.key);
        this.#seenFiring.add(delivery.key);
        this.occurrences += 1;
        if (this.#open.has(delivery.key)) continue;
        this.#open.add(delivery.key);
        this.rows += 1;
        if (delivery.severity === 'critical') this.criticalServices.add(delivery.service);
        continue;
      }
      this.resolvedDeliveries += 1;
      this.#seen.add(delivery.key);
      const occurrence = `${delivery.key}|${delivery.startsAt}`;
      if (this.#open.delete(delivery.key)) {
        this.#resolved.add(occurrence);
        continue;
      }
      this.occurrences += 1;
      // A re-sent resolve of an activation already stored as resolved bumps that row's counter.
      if (this.#resolved.has(occurrence)) continue;
      this.#resolved.add(occurrence);
      this.rows += 1;
      this.recordOnlyResolvedRows += 1;
    }
  }

  get openSignals(): number {
    return this.#open.size;
  }

  /** Fingerprints OPX has any signal for. */
  get distinctFingerprints(): number {
    return this.#seen.size;
  }

  /** Fingerprints that were sent firing at least once; equal to the above unless a firing batch failed. */
  get distinctFiringFingerprints(): number {
    return this.#seenFiring.size;
  }
}
