import MiniSearch from 'minisearch';
import type { KbChunk, KbDocument, KbDocumentKind } from '../store/repositories/knowledge.js';
import type { Store } from '../store/store.js';

export interface KnowledgeQuery {
  /** Free text: symptoms, error messages, the alert's summary. */
  text?: string | undefined;
  service?: string | undefined;
  alert?: string | undefined;
  kind?: KbDocumentKind | undefined;
  limit?: number | undefined;
  /** At most this many sections from one document (default 2), so one long runbook cannot fill the list. */
  perDocument?: number | undefined;
  /** Only documents whose front matter lists both `service` and `alert`: written for that alert there. */
  listed?: boolean | undefined;
}

/** Whether a document's front matter lists both the service and the alert (case aside for the alert). */
function lists(document: KbDocument, service: string | undefined, alert: string | undefined): boolean {
  if (!service || !alert) return false;
  const name = alert.toLowerCase();
  return (
    document.services.includes(service) && document.alerts.some((listed) => listed.toLowerCase() === name)
  );
}

/** A path as a comparable key: lower case, no extension, every run of other characters a `-`. */
function pathKey(value: string): string {
  return value
    .toLowerCase()
    .replace(/\.(?:md|markdown|html?)$/, '')
    .replace(/[^a-z0-9]+/g, '-')
    .replace(/^-+|-+$/g, '');
}

export interface KnowledgeHit {
  chunkId: string;
  documentId: string;
  path: string;
  title: string;
  kind: KbDocumentKind;
  heading: string;
  score: number;
  excerpt: string;
  services: string[];
  alerts: string[];
}

/** Headings under which runbooks keep their actions. */
export const MITIGATION_HEADING =
  /\b(mitigation|mitigate|remediation|resolution|recovery|rollback|roll back)\b/i;

interface IndexedChunk {
  id: string;
  title: string;
  heading: string;
  text: string;
  services: string;
  alerts: string;
}

/**
 * Field weights for BM25 (MiniSearch's BM25+). An alert name or service named in a document's front
 * matter says more about fit than a passing mention in prose.
 */
const FIELD_BOOST = { alerts: 3, services: 2, title: 2, heading: 1.5, text: 1 };
/**
 * Extra weight for documents written for the queried service or alert (their front matter lists it).
 * The first listed service is the document's subject; the others are ones it mentions, so a checkout
 * runbook outranks a gateway runbook that lists checkout among its upstreams. A heuristic: the quality
 * benchmark's runbook recall measures it.
 */
const PRIMARY_SERVICE_BOOST = 2;
const SERVICE_MATCH_BOOST = 1.25;
const ALERT_MATCH_BOOST = 2;
/** Answers one index keeps (see KnowledgeIndex.search). */
const SEARCH_MEMO_SIZE = 512;

/**
 * Ranked retrieval over runbook and postmortem chunks. The index lives in memory and is rebuilt when the
 * knowledge base's revision changes; a knowledge base is hundreds of documents, so a rebuild is cheap
 * and both stores share one code path.
 */
export class KnowledgeIndex {
  readonly #documents: Map<string, KbDocument>;
  readonly #chunks: Map<string, KbChunk>;
  readonly #search: MiniSearch<IndexedChunk>;

  constructor(documents: readonly KbDocument[], chunks: readonly KbChunk[]) {
    this.#documents = new Map(documents.map((document) => [document.id, document]));
    this.#chunks = new Map(chunks.map((item) => [item.id, item]));
    this.#search = new MiniSearch<IndexedChunk>({
      fields: ['title', 'heading', 'text', 'services', 'alerts'],
      idField: 'id',
    });
    this.#search.addAll(
      chunks.flatMap((item) => {
        const document = this.#documents.get(item.documentId);
        if (!document) return [];
        return [
          {
            id: item.id,
            title: document.title,
            heading: item.heading,
            text: item.text,
            services: document.services.join(' '),
            alerts: document.alerts.join(' '),
          },
        ];
      }),
    );
  }

  get size(): number {
    return this.#chunks.size;
  }

  /** Ids of the documents whose front matter lists both `service` and `alert`. */
  listedFor(service: string, alert: string): string[] {
    return [...this.#documents.values()]
      .filter((document) => lists(document, service, alert))
      .map((document) => document.id);
  }

  /**
   * The documents a runbook link points at (an alert's `runbook_url`), by path: the link's path and a
   * document's path (or its file name), lower-cased with every run of other characters read as `-`
   * and without extension, match when one ends the other at a separator
   * (`…/runbooks/kubernetes/kubepodcrashlooping` names `kubernetes/KubePodCrashLooping.md`;
   * `…/api-gateway/high-error-rate` names `runbooks/api-gateway-high-error-rate.md`). Of several, the
   * ones matched by the longest key.
   */
  documentsAt(link: string): KbDocument[] {
    let linkPath = link.trim();
    try {
      linkPath = new URL(linkPath).pathname;
    } catch {
      linkPath = linkPath.replace(/[?#].*$/, '');
    }
    const target = pathKey(linkPath);
    if (target.length < 3) return [];
    let longest = 0;
    let found: KbDocument[] = [];
    for (const document of this.#documents.values()) {
      const keys = [pathKey(document.path), pathKey(document.path.split('/').at(-1) ?? '')];
      for (const key of keys) {
        if (key.length < 3 || !(target === key || target.endsWith(`-${key}`) || key.endsWith(`-${target}`)))
          continue;
        const length = Math.min(key.length, target.length);
        if (length > longest) {
          longest = length;
          found = [document];
        } else if (length === longest && !found.includes(document)) found.push(document);
      }
    }
    return found;
  }

  /**
   * A document's sections whose heading matches (e.g. its Mitigation section), or all of them without
   * `heading`, in document order.
   */
  sectionsMatching(documentId: string, heading?: RegExp): KbChunk[] {
    return [...this.#chunks.values()]
      .filter((item) => item.documentId === documentId && (heading?.test(item.heading) ?? true))
      .sort((a, b) => a.ordinal - b.ordinal);
  }

  document(documentId: string): KbDocument | undefined {
    return this.#documents.get(documentId);
  }

  /** The full text of a section (hits carry only an excerpt). */
  chunkText(chunkId: string): string {
    return this.#chunks.get(chunkId)?.text ?? '';
  }

  /**
   * Answers already given, by query. The index never changes once built, so an answer stays right
   * for its life; incidents on one service ask with the same service, alert and titles again and
   * again. The oldest answer goes first when SEARCH_MEMO_SIZE are kept.
   */
  readonly #answers = new Map<string, KnowledgeHit[]>();

  search(query: KnowledgeQuery): KnowledgeHit[] {
    const key = JSON.stringify([
      query.text,
      query.service,
      query.alert,
      query.kind,
      query.limit,
      query.perDocument,
      query.listed,
    ]);
    let hits = this.#answers.get(key);
    if (hits) this.#answers.delete(key);
    else {
      hits = this.#rank(query);
      if (this.#answers.size >= SEARCH_MEMO_SIZE) this.#answers.delete(this.#answers.keys().next().value!);
    }
    this.#answers.set(key, hits);
    // Copies: a caller that changes a hit does not change the next caller's answer.
    return hits.map((hit) => ({ ...hit }));
  }

  #rank(query: KnowledgeQuery): KnowledgeHit[] {
    const terms = [query.text, query.alert, query.service]
      .filter((part): part is string => Boolean(part?.trim()))
      .join(' ');
    if (!terms) return [];
    const results = this.#search.search(terms, {
      boost: FIELD_BOOST,
      combineWith: 'OR',
      boostDocument: (id) => {
        const document = this.#documents.get(this.#chunks.get(id as string)?.documentId ?? '');
        if (!document) return 1;
        let factor = 1;
        if (query.service && document.services[0] === query.service) factor *= PRIMARY_SERVICE_BOOST;
        else if (query.service && document.services.includes(query.service)) factor *= SERVICE_MATCH_BOOST;
        if (
          query.alert &&
          document.alerts.some((alert) => alert.toLowerCase() === query.alert!.toLowerCase())
        )
          factor *= ALERT_MATCH_BOOST;
        return factor;
      },
      ...(query.kind || query.listed
        ? {
            filter: (result) => {
              const document = this.#documents.get(this.#chunks.get(result.id as string)?.documentId ?? '');
              if (!document || (query.kind && document.kind !== query.kind)) return false;
              return !query.listed || lists(document, query.service, query.alert);
            },
          }
        : {}),
    });
    const perDocument = query.perDocument ?? 2;
    const taken = new Map<string, number>();
    const kept = results.filter((result) => {
      const documentId = this.#chunks.get(result.id as string)?.documentId ?? '';
      const count = taken.get(documentId) ?? 0;
      taken.set(documentId, count + 1);
      return count < perDocument;
    });
    return kept.slice(0, query.limit ?? 10).map((result) => {
      const item = this.#chunks.get(result.id as string)!;
      const document = this.#documents.get(item.documentId)!;
      return {
        chunkId: item.id,
        documentId: document.id,
        path: document.path,
        title: document.title,
        kind: document.kind,
        heading: item.heading,
        score: Math.round(result.score * 10_000) / 10_000,
        excerpt: item.text.length > 240 ? `${item.text.slice(0, 239)}…` : item.text,
        services: document.services,
        alerts: document.alerts,
      };
    });
  }
}

/** Serves searches from a cached index, rebuilt when documents change. */
export class KnowledgeService {
  readonly #store: Store;
  #cached: { revision: string; index: KnowledgeIndex } | undefined;

  constructor(store: Store) {
    this.#store = store;
  }

  async index(): Promise<KnowledgeIndex> {
    const revision = await this.#store.knowledge.revision();
    if (this.#cached?.revision !== revision) {
      this.#cached = {
        revision,
        index: new KnowledgeIndex(await this.#store.knowledge.list(), await this.#store.knowledge.chunks()),
      };
    }
    return this.#cached.index;
  }

  async search(query: KnowledgeQuery): Promise<KnowledgeHit[]> {
    return (await this.index()).search(query);
  }
}
