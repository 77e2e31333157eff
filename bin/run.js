#!/usr/bin/env node
import process from 'node:process';
import { execute } from '@oclif/core';
import { hoistGlobalFlags } from '../dist/cli/argv.js';

// StarCluster's global options came before the command (`starcluster -c FILE start x`).
await execute({ dir: import.meta.url, args: hoistGlobalFlags(process.argv.slice(2)) });
