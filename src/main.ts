#!/usr/bin/env node
import 'reflect-metadata';
import { installLazyRequires } from './lazy-requires';

installLazyRequires();
// A reader that stops early (`opencode-tools list-tasks --json | head`) closes the pipe: stop
// quietly with 0 like other command-line tools, instead of a stack trace for the EPIPE.
process.stdout.on('error', (err: NodeJS.ErrnoException) => {
  if (err.code !== 'EPIPE') throw err;
  process.exit(0);
});
process.stderr.on('error', (err: NodeJS.ErrnoException) => {
  if (err.code !== 'EPIPE') throw err; // diagnostics nobody reads any more: carry on
});
// Loaded after the hook above so nest-commander gets the lazy proxies.
const { runCli } = require('./cli') as typeof import('./cli');

runCli().then((code) => {
  process.exitCode = code;
  // Exit promptly even if a library left a handle open; stdout/stderr are synchronous for files
  // and pipes on Linux, so nothing written is lost.
  setTimeout(() => process.exit(code), 200).unref();
});
