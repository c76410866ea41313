import { type ChildProcess, spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import net from 'node:net';

/** A port the kernel just handed out; another process could take it before we bind, which is rare enough here. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.unref();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address !== null ? address.port : 0;
      server.close(() => (port > 0 ? resolve(port) : reject(new Error('no free port'))));
    });
  });
}

export interface ExitStatus {
  code: number | null;
  signal: NodeJS.Signals | null;
  /** True when the process ignored the polite signal and had to be killed. */
  forced: boolean;
}

const OUTPUT_LIMIT = 64 * 1024;

/** A child process we own: its output is kept for error messages and it is killed when we exit. */
export class ManagedProcess {
  readonly name: string;
  readonly child: ChildProcess;
  #output = '';
  #exit: Promise<ExitStatus>;
  #exited = false;

  constructor(
    name: string,
    command: string,
    args: readonly string[],
    options: { env?: NodeJS.ProcessEnv; cwd?: string },
  ) {
    this.name = name;
    this.child = spawn(command, args, {
      env: options.env ?? process.env,
      cwd: options.cwd,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const keep = (chunk: Buffer) => {
      this.#output = (this.#output + chunk.toString('utf8')).slice(-OUTPUT_LIMIT);
    };
    this.child.stdout?.on('data', keep);
    this.child.stderr?.on('data', keep);
    this.#exit = new Promise((resolve) => {
      // 'error' without 'exit' happens when the binary cannot be started at all (ENOENT, EACCES).
      this.child.once('error', (error) => {
        this.#output += `\n[spawn error] ${error.message}`;
        this.#exited = true;
        resolve({ code: null, signal: null, forced: false });
      });
      this.child.once('exit', (code, signal) => {
        this.#exited = true;
        resolve({ code, signal, forced: false });
      });
    });
    live.add(this);
    void this.#exit.then(() => live.delete(this));
  }

  get pid(): number {
    if (this.child.pid === undefined) throw new Error(`${this.name} did not start: ${this.output()}`);
    return this.child.pid;
  }

  get exited(): boolean {
    return this.#exited;
  }

  /** The last 64 KiB the process printed, for diagnosing a failed start. */
  output(): string {
    return this.#output;
  }

  waitForExit(): Promise<ExitStatus> {
    return this.#exit;
  }

  /** Sends `signal`, then SIGKILL if the process is still there after `graceMs`. */
  async stop(signal: NodeJS.Signals = 'SIGTERM', graceMs = 10_000): Promise<ExitStatus> {
    if (this.#exited) return this.#exit;
    this.child.kill(signal);
    let timer: NodeJS.Timeout | undefined;
    const deadline = new Promise<'timeout'>((resolve) => {
      timer = setTimeout(() => resolve('timeout'), graceMs);
    });
    const first = await Promise.race([this.#exit, deadline]);
    clearTimeout(timer);
    if (first !== 'timeout') return first;
    this.child.kill('SIGKILL');
    return { ...(await this.#exit), forced: true };
  }
}

const live = new Set<ManagedProcess>();

// Last resort for paths that skip `finally` (process.exit elsewhere, an uncaught error): no orphaned servers.
process.on('exit', () => {
  for (const managed of live) managed.child.kill('SIGKILL');
});

/** Polls `url` until it answers 2xx; fails early with the process's output if it dies first. */
export async function waitForHttp(url: string, owner: ManagedProcess, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let lastProblem = 'no answer yet';
  while (Date.now() < deadline) {
    if (owner.exited) {
      throw new Error(`${owner.name} exited before it was ready:\n${owner.output()}`);
    }
    try {
      const response = await fetch(url, { signal: AbortSignal.timeout(1000) });
      await response.arrayBuffer();
      if (response.ok) return;
      lastProblem = `HTTP ${response.status}`;
    } catch (error) {
      lastProblem = (error as Error).message;
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error(
    `${owner.name} was not ready at ${url} within ${timeoutMs} ms (${lastProblem}):\n${owner.output()}`,
  );
}

export interface MemoryReading {
  rssBytes: number;
  /** VmHWM: the kernel's own peak RSS, which catches spikes between our samples. */
  peakRssBytes: number;
}

/** Reads VmRSS and VmHWM from /proc; undefined where /proc is missing (not Linux) or the process is gone. */
export function readMemory(pid: number): MemoryReading | undefined {
  let status: string;
  try {
    status = readFileSync(`/proc/${pid}/status`, 'utf8');
  } catch {
    return undefined;
  }
  const kibibytes = (field: string) => {
    const match = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(status);
    return match ? Number(match[1]) * 1024 : undefined;
  };
  const rssBytes = kibibytes('VmRSS');
  const peakRssBytes = kibibytes('VmHWM');
  return rssBytes === undefined || peakRssBytes === undefined ? undefined : { rssBytes, peakRssBytes };
}

// Linux reports utime/stime in USER_HZ ticks, which is 100 on every mainstream architecture; Node cannot ask sysconf.
const CLOCK_TICKS_PER_SECOND = 100;

/** User plus system CPU seconds the whole process (all threads) has used so far. */
export function readCpuSeconds(pid: number): number | undefined {
  let stat: string;
  try {
    stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return undefined;
  }
  // The command name (field 2) may contain spaces and parentheses; fields after its closing ')' are fixed.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  // utime and stime are fields 14 and 15 overall, i.e. 11 and 12 after the name.
  const user = Number(fields[11]);
  const system = Number(fields[12]);
  if (!Number.isFinite(user) || !Number.isFinite(system)) return undefined;
  return (user + system) / CLOCK_TICKS_PER_SECOND;
}

/**
 * CPU seconds the hypervisor gave to other guests while this machine wanted to run (steal), summed over
 * all CPUs. On a shared VM it explains runs that are slow for no reason visible inside the machine.
 */
export function readStealSeconds(): number | undefined {
  let stat: string;
  try {
    stat = readFileSync('/proc/stat', 'utf8');
  } catch {
    return undefined;
  }
  // "cpu  user nice system idle iowait irq softirq steal ..."
  const steal = Number(stat.split('\n', 1)[0]!.trim().split(/\s+/)[8]);
  return Number.isFinite(steal) ? steal / CLOCK_TICKS_PER_SECOND : undefined;
}

export interface MemorySummary {
  samples: number;
  meanRssBytes: number | null;
  maxSampledRssBytes: number | null;
  /** VmHWM at the end of the sampled period: peak since the process started, warm-up included. */
  peakRssBytes: number | null;
}

/** Samples a process's RSS on a timer while a phase runs. */
export class MemorySampler {
  readonly #pid: number;
  readonly #timer: NodeJS.Timeout;
  #count = 0;
  #sum = 0;
  #max = 0;
  #peak = 0;

  constructor(pid: number, intervalMs = 100) {
    this.#pid = pid;
    this.#sample();
    this.#timer = setInterval(() => this.#sample(), intervalMs);
    this.#timer.unref();
  }

  #sample(): void {
    const reading = readMemory(this.#pid);
    if (!reading) return;
    this.#count += 1;
    this.#sum += reading.rssBytes;
    this.#max = Math.max(this.#max, reading.rssBytes);
    this.#peak = Math.max(this.#peak, reading.peakRssBytes);
  }

  stop(): MemorySummary {
    this.#sample();
    clearInterval(this.#timer);
    if (this.#count === 0)
      return { samples: 0, meanRssBytes: null, maxSampledRssBytes: null, peakRssBytes: null };
    return {
      samples: this.#count,
      meanRssBytes: Math.round(this.#sum / this.#count),
      maxSampledRssBytes: this.#max,
      peakRssBytes: this.#peak,
    };
  }
}
