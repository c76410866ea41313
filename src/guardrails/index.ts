export * from './engine.js';
export * from './injection.js';
export * from './recognizers.js';
export * as validators from './validators.js';
