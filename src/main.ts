#!/usr/bin/env node
import 'reflect-metadata';
import { installLazyRequires } from './lazy-requires';

installLazyRequires();
// Loaded after the hook above so nest-commander gets the lazy proxies.
const { runCli } = require('./cli') as typeof import('./cli');

runCli().then((code) => {
  process.exitCode = code;
  // Exit promptly even if a library left a handle open; stdout/stderr are synchronous for files
  // and pipes on Linux, so nothing written is lost.
  setTimeout(() => process.exit(code), 200).unref();
});
