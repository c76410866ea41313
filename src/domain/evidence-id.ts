/**
 * Evidence ids: what a claim, a recommendation or the evidence graph names an item of an evidence
 * bundle by. An item with a row of its own is named by its id (`sig_…`, `chg_…`, `det_…`, `inc_…`,
 * `chk_…`); a service of the topology has none and is named `service:<name>`. The web console draws a
 * knowledge document, which the bundle holds as sections, as the graph node `document:<documentId>`.
 *
 * This module is the one place these composite formats are written and read. It imports nothing, so
 * the web console (web/src) bundles it as it is.
 */

export const SERVICE_EVIDENCE_PREFIX = 'service:';
export const DOCUMENT_NODE_PREFIX = 'document:';

/** The evidence id of a service of the topology: `service:<name>`. */
export function serviceEvidenceId(name: string): string {
  return `${SERVICE_EVIDENCE_PREFIX}${name}`;
}

/** The console's graph node for a knowledge document: `document:<documentId>`. Not citable evidence. */
export function documentNodeId(documentId: string): string {
  return `${DOCUMENT_NODE_PREFIX}${documentId}`;
}

export type ParsedEvidenceId =
  | { kind: 'service'; service: string }
  | { kind: 'document'; documentId: string }
  /** Anything else: the id of a bundle item (signal, change, detection, incident, knowledge section). */
  | { kind: 'item'; id: string };

/** What an evidence id (or graph node id) names. A bare prefix with nothing after it is an item id. */
export function parseEvidenceId(id: string): ParsedEvidenceId {
  if (id.startsWith(SERVICE_EVIDENCE_PREFIX) && id.length > SERVICE_EVIDENCE_PREFIX.length)
    return { kind: 'service', service: id.slice(SERVICE_EVIDENCE_PREFIX.length) };
  if (id.startsWith(DOCUMENT_NODE_PREFIX) && id.length > DOCUMENT_NODE_PREFIX.length)
    return { kind: 'document', documentId: id.slice(DOCUMENT_NODE_PREFIX.length) };
  return { kind: 'item', id };
}

/** The service a `service:<name>` id names, or undefined for any other id. */
export function serviceOfEvidenceId(id: string): string | undefined {
  const parsed = parseEvidenceId(id);
  return parsed.kind === 'service' ? parsed.service : undefined;
}

/** The document a `document:<documentId>` node names, or undefined for any other id. */
export function documentOfNodeId(id: string): string | undefined {
  const parsed = parseEvidenceId(id);
  return parsed.kind === 'document' ? parsed.documentId : undefined;
}
