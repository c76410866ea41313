import { readFileSync } from 'node:fs';
import path from 'node:path';

/** The parts of a V8 `.cpuprofile` (what `node --cpu-prof` writes) that the summary needs. */
interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}

interface CpuProfile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

export interface ProfileEntry {
  name: string;
  where: string;
  selfMs: number;
  /** Share of the time the process was not idle. */
  selfPercent: number;
  totalMs: number;
  totalPercent: number;
}

export interface ProfileSummary {
  file: string;
  sampledMs: number;
  idleMs: number;
  busyMs: number;
  /** Functions by self time: where the CPU actually was. */
  topSelf: ProfileEntry[];
  /** Functions by inclusive time (self plus callees, recursion counted once): which call paths cost most. */
  topTotal: ProfileEntry[];
  /** Self time per file or package, to see the split between OPX, its libraries and Node itself. */
  byArea: { area: string; selfMs: number; selfPercent: number }[];
  /**
   * Every sample charged to the innermost OPX function on its stack: time inside Kysely, SQLite or
   * Node's JSON is billed to the OPX function that asked for it, e.g. a repository method.
   */
  byOpxCaller: ProfileEntry[];
}

/** `dist/ingest/pipeline.js` for our files, `kysely/dist/esm/…` inside dependencies, `node:…` for Node. */
function locationOf(url: string, root: string): string {
  if (url === '') return '(native / VM)';
  if (url.startsWith('node:')) return url;
  const file = url.startsWith('file://') ? new URL(url).pathname : url;
  const modules = file.lastIndexOf('/node_modules/');
  if (modules >= 0) return file.slice(modules + '/node_modules/'.length);
  return path.relative(root, file);
}

/** Groups locations: one line per dependency, per OPX file, and one for all of Node's internals. */
function areaOf(url: string, root: string): string {
  if (url.startsWith('node:')) return 'node internals';
  const location = locationOf(url, root);
  if (url.includes('/node_modules/')) {
    const parts = location.split('/');
    return `pkg:${parts[0]!.startsWith('@') ? `${parts[0]}/${parts[1]}` : parts[0]}`;
  }
  return location;
}

function isOurs(url: string): boolean {
  return url !== '' && !url.startsWith('node:') && !url.includes('/node_modules/');
}

export function summarizeCpuProfile(file: string, root: string, limit = 25): ProfileSummary {
  const profile = JSON.parse(readFileSync(file, 'utf8')) as CpuProfile;
  const byId = new Map(profile.nodes.map((node) => [node.id, node]));
  const selfById = new Map<number, number>();
  // timeDeltas[i] is the gap before sample i; attributing it to sample i is what DevTools does too.
  profile.samples.forEach((id, index) => {
    selfById.set(id, (selfById.get(id) ?? 0) + (profile.timeDeltas[index] ?? 0) / 1000);
  });

  const keyOf = (node: ProfileNode) => {
    const { functionName, url, lineNumber } = node.callFrame;
    return `${functionName || '(anonymous)'}\u0000${locationOf(url, root)}:${lineNumber + 1}`;
  };
  const self = new Map<string, number>();
  const byCaller = new Map<string, number>();
  const callers: string[] = [];
  const ourKeys = new Set<string>();
  const total = new Map<string, number>();
  const areas = new Map<string, number>();
  let idleMs = 0;
  let sampledMs = 0;

  // Post-order walk from the root: inclusive time of a node is its self time plus its children's.
  const root0 = profile.nodes[0];
  if (!root0) throw new Error(`${file} has no nodes`);
  const onStack = new Map<string, number>();
  const visit = (node: ProfileNode): number => {
    const key = keyOf(node);
    const depth = onStack.get(key) ?? 0;
    onStack.set(key, depth + 1);
    const own = selfById.get(node.id) ?? 0;
    sampledMs += own;
    if (node.callFrame.functionName === '(idle)') idleMs += own;
    self.set(key, (self.get(key) ?? 0) + own);
    const ours = isOurs(node.callFrame.url);
    if (ours) {
      callers.push(key);
      ourKeys.add(key);
    }
    // Kysely resumes queries from microtasks, so its SQLite calls often have no OPX frame below them.
    const caller = callers[callers.length - 1] ?? '(no OPX frame on the stack)\u0000async continuations';
    if (node.callFrame.functionName !== '(idle)') byCaller.set(caller, (byCaller.get(caller) ?? 0) + own);
    const area = areaOf(node.callFrame.url, root);
    // (garbage collector) and (program) are worth seeing on their own; other url-less frames are natives.
    const areaKey = node.callFrame.functionName.startsWith('(') ? node.callFrame.functionName : area;
    areas.set(areaKey, (areas.get(areaKey) ?? 0) + own);
    let inclusive = own;
    for (const childId of node.children ?? []) {
      const child = byId.get(childId);
      if (child) inclusive += visit(child);
    }
    // Only the outermost frame of a recursive function counts, or its time would be counted per level.
    if (depth === 0) total.set(key, (total.get(key) ?? 0) + inclusive);
    onStack.set(key, depth);
    if (ours) callers.pop();
    return inclusive;
  };
  visit(root0);

  const busyMs = sampledMs - idleMs;
  const percent = (ms: number) => (busyMs > 0 ? Math.round((ms / busyMs) * 1000) / 10 : 0);
  const entry = (key: string, selfOverride?: number): ProfileEntry => {
    const [name, where] = key.split('\u0000') as [string, string];
    const selfMs = selfOverride ?? self.get(key) ?? 0;
    const totalMs = total.get(key) ?? 0;
    return {
      name,
      where,
      selfMs: Math.round(selfMs),
      selfPercent: percent(selfMs),
      totalMs: Math.round(totalMs),
      totalPercent: percent(totalMs),
    };
  };
  const excluded = new Set(['(idle)', '(root)', '(program)']);
  const ranked = (values: Map<string, number>, useValue = false) =>
    [...values.entries()]
      .filter(([key]) => !excluded.has(key.split('\u0000')[0]!))
      .sort((left, right) => right[1] - left[1])
      .slice(0, limit)
      .map(([key, value]) => entry(key, useValue ? value : undefined));
  return {
    file,
    sampledMs: Math.round(sampledMs),
    idleMs: Math.round(idleMs),
    busyMs: Math.round(busyMs),
    topSelf: ranked(self),
    // Frames outside OPX (fastify's hooks, Node's task queue) enclose nearly everything and say nothing.
    topTotal: ranked(new Map([...total].filter(([key]) => ourKeys.has(key)))),
    byArea: [...areas.entries()]
      .filter(([area]) => area !== '(idle)')
      .sort((left, right) => right[1] - left[1])
      .slice(0, limit)
      .map(([area, ms]) => ({ area, selfMs: Math.round(ms), selfPercent: percent(ms) })),
    byOpxCaller: ranked(byCaller, true),
  };
}
