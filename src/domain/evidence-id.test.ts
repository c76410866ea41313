import { describe, expect, it } from 'vitest';
import {
  documentNodeId,
  documentOfNodeId,
  parseEvidenceId,
  serviceEvidenceId,
  serviceOfEvidenceId,
} from './evidence-id.js';

describe('evidence ids', () => {
  it('names a service service:<name> and a document node document:<id>', () => {
    expect(serviceEvidenceId('auth-service')).toBe('service:auth-service');
    expect(documentNodeId('doc_01m8')).toBe('document:doc_01m8');
  });

  it('parses what it builds, for any service name the catalog accepts', () => {
    for (const name of ['db', 'auth-service', 'Payments.API_v2', 'aws:us-east-1:s3', 'a'.repeat(200)]) {
      expect(parseEvidenceId(serviceEvidenceId(name))).toEqual({ kind: 'service', service: name });
      expect(serviceOfEvidenceId(serviceEvidenceId(name))).toBe(name);
    }
    expect(parseEvidenceId(documentNodeId('doc_1'))).toEqual({ kind: 'document', documentId: 'doc_1' });
    expect(documentOfNodeId(documentNodeId('doc_1'))).toBe('doc_1');
  });

  it('reads any other id as the id of a bundle item', () => {
    for (const id of ['sig_01m8abc', 'chg_x', 'inc_test', 'chk_db', 'det_1', 'services:db', 'Service:db']) {
      expect(parseEvidenceId(id)).toEqual({ kind: 'item', id });
      expect(serviceOfEvidenceId(id)).toBeUndefined();
      expect(documentOfNodeId(id)).toBeUndefined();
    }
  });

  it('reads a bare prefix as an item, not as a service or document without a name', () => {
    expect(parseEvidenceId('service:')).toEqual({ kind: 'item', id: 'service:' });
    expect(parseEvidenceId('document:')).toEqual({ kind: 'item', id: 'document:' });
  });

  it('splits at the first prefix only: a service name may itself hold colons', () => {
    expect(parseEvidenceId('service:document:x')).toEqual({ kind: 'service', service: 'document:x' });
    expect(parseEvidenceId('document:service:x')).toEqual({ kind: 'document', documentId: 'service:x' });
  });
});
