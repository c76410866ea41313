import { describe } from 'vitest';
import { auditSpecs, idempotencySpecs, tokenSpecs } from './access.js';
import { analyticsSpecs } from './analytics.js';
import { changeSpecs, serviceSpecs } from './catalog.js';
import { detectionSpecs } from './detections.js';
import { evidenceSpecs } from './evidence.js';
import type { StoreFactory } from './harness.js';
import { incidentSpecs } from './incidents.js';
import { jobSpecs } from './jobs.js';
import { knowledgeSpecs } from './knowledge.js';
import { migrationSpecs } from './migrate.js';
import { ruleSpecs } from './rules.js';
import { safetySpecs } from './safety.js';
import { signalSpecs } from './signals.js';
import { silenceSpecs } from './silences.js';
import { snsSpecs } from './sns.js';
import { transactionSpecs } from './transactions.js';
import { valueSpecs } from './values.js';

export type { StoreFactory, StoreUnderTest } from './harness.js';
export {
  analyticsSpecs,
  auditSpecs,
  changeSpecs,
  detectionSpecs,
  evidenceSpecs,
  idempotencySpecs,
  incidentSpecs,
  jobSpecs,
  knowledgeSpecs,
  migrationSpecs,
  ruleSpecs,
  safetySpecs,
  serviceSpecs,
  signalSpecs,
  silenceSpecs,
  snsSpecs,
  tokenSpecs,
  transactionSpecs,
  valueSpecs,
};

/**
 * Registers the whole storage contract for one backend. `factory` must return a freshly migrated,
 * empty store on every call; the specs open several and clean each one up.
 */
export function runConformance(name: string, factory: StoreFactory): void {
  describe(`store conformance: ${name}`, () => {
    migrationSpecs(factory);
    signalSpecs(factory);
    ruleSpecs(factory);
    detectionSpecs(factory);
    incidentSpecs(factory);
    serviceSpecs(factory);
    changeSpecs(factory);
    tokenSpecs(factory);
    idempotencySpecs(factory);
    auditSpecs(factory);
    silenceSpecs(factory);
    snsSpecs(factory);
    evidenceSpecs(factory);
    knowledgeSpecs(factory);
    jobSpecs(factory);
    safetySpecs(factory);
    analyticsSpecs(factory);
    transactionSpecs(factory);
    valueSpecs(factory);
  });
}
