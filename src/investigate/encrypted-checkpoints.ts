/**
 * Checkpoints hold the whole investigation state (evidence, model prompts and answers, findings,
 * recommendations), so they are encrypted like the columns they mirror (src/store/crypto.ts).
 */
import { JsonPlusSerializer, type SerializerProtocol } from '@langchain/langgraph-checkpoint';
import { PostgresSaver } from '@langchain/langgraph-checkpoint-postgres';
import pg from 'pg';
import type { FieldCipher } from '../store/crypto.js';

const CONTEXT = 'checkpoint';

/** LangGraph's serializer with every value sealed; values written before encryption still load. */
export function encryptingSerde(cipher: FieldCipher): SerializerProtocol {
  const inner = new JsonPlusSerializer();
  return {
    async dumpsTyped(data: unknown): Promise<[string, Uint8Array]> {
      const [type, bytes] = await inner.dumpsTyped(data);
      return [type, cipher.encryptBytes(bytes, CONTEXT)];
    },
    async loadsTyped(type: string, data: Uint8Array | string): Promise<unknown> {
      const bytes = typeof data === 'string' ? Buffer.from(data, 'utf8') : data;
      return inner.loadsTyped(type, cipher.decryptBytes(bytes, CONTEXT));
    },
  };
}

interface MetadataHooks {
  _dumpMetadata(metadata: unknown): Promise<unknown>;
  _loadMetadata(metadata: unknown): Promise<unknown>;
}

/**
 * PostgresSaver keeps checkpoint metadata as JSONB, parsed from the serializer's output, so metadata
 * (step, source, parents: no evidence) stays plain JSON while every channel value and write is sealed.
 */
export function encryptedPostgresSaver(
  url: string,
  cipher: FieldCipher,
  options: { schema?: string },
): PostgresSaver {
  const saver = new PostgresSaver(new pg.Pool({ connectionString: url }), encryptingSerde(cipher), options);
  const plain = new JsonPlusSerializer();
  const hooks = saver as unknown as MetadataHooks;
  hooks._dumpMetadata = async (metadata) => {
    const [, bytes] = await plain.dumpsTyped(metadata);
    return JSON.parse(new TextDecoder().decode(bytes).replace(/\0/g, ''));
  };
  hooks._loadMetadata = async (metadata) => {
    const [type, bytes] = await plain.dumpsTyped(metadata);
    return plain.loadsTyped(type, bytes);
  };
  return saver;
}
