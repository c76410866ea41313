export * from './change.js';
export * from './common.js';
export * from './errors.js';
export * from './evidence.js';
export * from './incident.js';
export * from './rule.js';
export * from './service.js';
export * from './signal.js';
