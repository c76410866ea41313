import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { configSchema, ENV_NAMES, loadConfig } from './index.js';

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

  it('defaults the language model to 1,024 tokens and 60,000 ms, from src/llm/settings.ts', () => {
    const config = loadConfig({ cwd: dir, env: {} });
    expect(config).toMatchObject({ llmProvider: 'deterministic', llmMaxTokens: 1024, llmTimeoutMs: 60_000 });
    expect(config).not.toHaveProperty('llmTimeoutSeconds');
    expect(configSchema.parse({})).toMatchObject({ llmMaxTokens: 1024, llmTimeoutMs: 60_000 });
  });

  it('reads OPX_LLM_TIMEOUT_SECONDS in seconds and OPX_LLM_TIMEOUT_MS in milliseconds', () => {
    expect(ENV_NAMES.llmTimeoutSeconds).toBe('OPX_LLM_TIMEOUT_SECONDS');
    expect(loadConfig({ cwd: dir, env: { OPX_LLM_TIMEOUT_SECONDS: '45' } }).llmTimeoutMs).toBe(45_000);
    expect(loadConfig({ cwd: dir, env: { OPX_LLM_TIMEOUT_MS: '2500' } }).llmTimeoutMs).toBe(2500);
    expect(configSchema.parse({ llmTimeoutSeconds: 2 }).llmTimeoutMs).toBe(2000);
    expect(() => loadConfig({ cwd: dir, env: { OPX_LLM_TIMEOUT_SECONDS: '601' } })).toThrow(
      /llmTimeoutSeconds \(from environment variable OPX_LLM_TIMEOUT_SECONDS\)/,
    );
  });

  it('takes the timeout from the higher source whichever unit each uses; both in one source is an error', () => {
    const file = path.join(dir, 'timeout.yaml');
    writeFileSync(file, 'llmTimeoutMs: 1500\n');
    expect(loadConfig({ file, env: {} }).llmTimeoutMs).toBe(1500);
    expect(loadConfig({ file, env: { OPX_LLM_TIMEOUT_SECONDS: '30' } }).llmTimeoutMs).toBe(30_000);
    expect(
      loadConfig({ file, env: { OPX_LLM_TIMEOUT_SECONDS: '30' }, flags: { llmTimeoutMs: 700 } }).llmTimeoutMs,
    ).toBe(700);
    writeFileSync(file, 'llmTimeoutMs: 1500\nllmTimeoutSeconds: 2\n');
    expect(() => loadConfig({ file, env: {} })).toThrow(/not both/);
    expect(() =>
      loadConfig({ cwd: dir, env: { OPX_LLM_TIMEOUT_MS: '1500', OPX_LLM_TIMEOUT_SECONDS: '2' } }),
    ).toThrow(/invalid setting llmTimeoutSeconds .*: set llmTimeoutMs or llmTimeoutSeconds, not both/);
  });

  it('checks model settings with the language model schema', () => {
    expect(() => loadConfig({ cwd: dir, env: { OPX_LLM_MAX_TOKENS: '63' } })).toThrow(
      /llmMaxTokens \(from environment variable OPX_LLM_MAX_TOKENS\)/,
    );
    expect(loadConfig({ cwd: dir, env: { OPX_LLM_MAX_TOKENS: '4096' } }).llmMaxTokens).toBe(4096);
    expect(() => loadConfig({ cwd: dir, env: { OPX_LLM_BASE_URL: 'localhost:11434' } })).toThrow(
      /llmBaseUrl \(from environment variable OPX_LLM_BASE_URL\)/,
    );
  });
});
