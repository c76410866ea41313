import { z } from 'zod';
import { linkSchema } from './common.js';

export const serviceInputSchema = z.strictObject({
  name: z
    .string()
    .min(1)
    .max(200)
    .regex(/^[A-Za-z0-9][A-Za-z0-9._:-]*$/, 'use letters, digits, ".", "_", ":" or "-"'),
  kind: z.enum(['component', 'resource']).default('component'),
  type: z.string().max(100).optional(),
  /** 1 is the most critical tier. */
  tier: z.number().int().min(1).max(4).default(3),
  owner: z.string().max(200).optional(),
  lifecycle: z.string().max(100).optional(),
  customerFacing: z.boolean().default(false),
  description: z.string().max(2000).optional(),
  dependsOn: z.array(z.string().min(1).max(200)).max(200).default([]),
  runbooks: z.array(linkSchema).max(50).default([]),
});
export type ServiceInput = z.input<typeof serviceInputSchema>;
export type NormalizedServiceInput = z.output<typeof serviceInputSchema>;

export interface Service extends NormalizedServiceInput {
  createdAt: number;
  updatedAt: number;
}
