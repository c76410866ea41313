import { z } from 'zod';
import { linkSchema, timestampSchema } from './common.js';

export const CHANGE_KINDS = [
  'deploy',
  'config',
  'feature_flag',
  'infra',
  'db_migration',
  'rollback',
] as const;
export const changeKindSchema = z.enum(CHANGE_KINDS);
export type ChangeKind = z.infer<typeof changeKindSchema>;

export const changeInputSchema = z.strictObject({
  kind: changeKindSchema,
  service: z.string().min(1).max(200),
  environment: z.string().min(1).max(100).default('production'),
  versionFrom: z.string().max(200).optional(),
  versionTo: z.string().max(200).optional(),
  author: z.string().max(200).optional(),
  summary: z.string().min(1).max(2000),
  startedAt: timestampSchema,
  finishedAt: timestampSchema.optional(),
  links: z.array(linkSchema).max(20).default([]),
  /** A source's own id for this change, used to recognise a re-delivered change. */
  externalId: z.string().max(256).optional(),
  source: z.string().max(64).default('api'),
});
export type ChangeInput = z.input<typeof changeInputSchema>;
export type NormalizedChangeInput = z.output<typeof changeInputSchema>;

export interface Change {
  id: string;
  kind: ChangeKind;
  service: string;
  environment: string;
  versionFrom: string | null;
  versionTo: string | null;
  author: string | null;
  summary: string;
  startedAt: number;
  finishedAt: number | null;
  links: { href: string; text?: string | undefined }[];
  externalId: string | null;
  source: string;
  createdAt: number;
}
