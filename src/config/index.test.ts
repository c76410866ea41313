import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { loadConfig } from './index.js';

const dir = mkdtempSync(path.join(os.tmpdir(), 'opx-config-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('loadConfig', () => {
  it('takes a flag over the environment over the file over the default', () => {
    const file = path.join(dir, 'opx.config.yaml');
    writeFileSync(file, 'port: 7000\ntopologyRadius: 3\nworkerConcurrency: 2\n');
    const config = loadConfig({
      file,
      env: { OPX_PORT: '7100', OPX_TOPOLOGY_RADIUS: '4' },
      flags: { port: 7200 },
    });
    expect(config).toMatchObject({
      port: 7200,
      topologyRadius: 4,
      workerConcurrency: 2,
      investigationTimeoutSeconds: 300,
    });
  });

  it('reads booleans and per-agent model settings from the environment', () => {
    const config = loadConfig({
      cwd: dir,
      env: {
        OPX_AUTO_INVESTIGATE: 'off',
        OPX_LLM_AGENTS: '{"knowledge-rag":{"provider":"openai-compatible","model":"m"}}',
      },
    });
    expect(config.autoInvestigate).toBe(false);
    expect(config.llmAgents).toEqual({ 'knowledge-rag': { provider: 'openai-compatible', model: 'm' } });
  });

  it('names the setting and where a bad value came from', () => {
    expect(() => loadConfig({ cwd: dir, env: { OPX_AUTO_INVESTIGATE: 'maybe' } })).toThrow(
      /OPX_AUTO_INVESTIGATE must be true or false/,
    );
    expect(() => loadConfig({ cwd: dir, env: { OPX_LLM_AGENTS: '{not json' } })).toThrow(
      /llmAgents \(from environment variable OPX_LLM_AGENTS\)/,
    );
    expect(() => loadConfig({ cwd: dir, env: { OPX_LLM_AGENTS: '{"no-such-agent":{}}' } })).toThrow(
      /llmAgents/,
    );
    expect(() => loadConfig({ cwd: dir, env: { OPX_INVESTIGATION_TIMEOUT_SECONDS: '0' } })).toThrow(
      /investigationTimeoutSeconds \(from environment variable OPX_INVESTIGATION_TIMEOUT_SECONDS\)/,
    );
  });
});
