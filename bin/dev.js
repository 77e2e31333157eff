#!/usr/bin/env -S node --import tsx
import process from 'node:process';
import { execute } from '@oclif/core';
import { tsImport } from 'tsx/esm/api';

// StarCluster's global options came before the command (`starcluster -c FILE start x`).
const { hoistGlobalFlags } = await tsImport('../src/cli/argv.ts', import.meta.url);
await execute({ development: true, dir: import.meta.url, args: hoistGlobalFlags(process.argv.slice(2)) });
