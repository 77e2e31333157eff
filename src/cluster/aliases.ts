// Node aliases live in src/setup/aliases.ts (setup and cluster both name nodes; imports point down).
export * from '../setup/aliases.js';
