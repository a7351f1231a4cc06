#!/usr/bin/env node
import 'reflect-metadata';
import { runCli } from './cli';

runCli().then((code) => {
  process.exitCode = code;
  // Exit promptly even if a library left a handle open; stdout/stderr are synchronous for files
  // and pipes on Linux, so nothing written is lost.
  setTimeout(() => process.exit(code), 200).unref();
});
