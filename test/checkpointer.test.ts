import { Annotation, END, START, StateGraph } from '@langchain/langgraph';
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openCheckpointer } from '../src/investigate/checkpointer.js';
import { BACKENDS, type TestRuntime, testRuntime } from './support.js';

const State = Annotation.Root({
  steps: Annotation<string[]>({ reducer: (left, right) => left.concat(right), default: () => [] }),
});

function graph() {
  return new StateGraph(State)
    .addNode('first', () => ({ steps: ['first'] }))
    .addNode('second', () => ({ steps: ['second'] }))
    .addEdge(START, 'first')
    .addEdge('first', 'second')
    .addEdge('second', END);
}

describe.each(BACKENDS)('LangGraph checkpoints on the OPX database (%s)', (backend) => {
  let test: TestRuntime;
  beforeAll(async () => {
    test = await testRuntime(backend);
  });
  afterAll(async () => {
    await test.cleanup();
  });

  it('migration creates the saver tables, and a run checkpoints under its thread id and survives a reopen', async () => {
    const tables =
      backend === 'sqlite'
        ? await sql<{
            name: string;
          }>`select name from sqlite_master where type = 'table' and name in ('checkpoints', 'writes')`.execute(
            test.runtime.store.db,
          )
        : await sql<{
            name: string;
          }>`select table_name as name from information_schema.tables where table_schema = current_schema() and table_name like 'checkpoint%'`.execute(
            test.runtime.store.db,
          );
    expect(tables.rows.length).toBeGreaterThanOrEqual(2);

    const first = await openCheckpointer(test.runtime.store);
    const config = { configurable: { thread_id: 'inc_test_thread' } };
    try {
      const result = await graph().compile({ checkpointer: first.saver }).invoke({ steps: [] }, config);
      expect(result.steps).toEqual(['first', 'second']);
    } finally {
      await first.close();
    }

    const reopened = await openCheckpointer(test.runtime.store);
    try {
      const checkpoints = [];
      for await (const tuple of reopened.saver.list(config)) checkpoints.push(tuple);
      expect(checkpoints.length).toBeGreaterThanOrEqual(3);
      const state = await graph().compile({ checkpointer: reopened.saver }).getState(config);
      expect(state.values.steps).toEqual(['first', 'second']);
    } finally {
      await reopened.close();
    }
  });
});
