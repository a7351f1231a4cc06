import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ENV_VARS } from '../../src/config/env';
import { BIN, assertBuilt } from '../helpers/cli';

describe('README', () => {
  const readme = readFileSync(join(__dirname, '..', '..', 'README.md'), 'utf8');

  it('documents every environment variable the code reads', () => {
    const missing = Object.keys(ENV_VARS).filter((k) => !readme.includes(`\`${k}\``));
    expect(missing).toEqual([]);
  });

  it('names every command the CLI has', () => {
    assertBuilt();
    const help = spawnSync(process.execPath, [BIN, '--help'], { encoding: 'utf8' }).stdout;
    const section = help.slice(help.indexOf('Commands:'), help.indexOf('Environment:'));
    const commands = [...section.matchAll(/^ {2}([a-z][a-z-]*) /gm)]
      .map((m) => m[1])
      .filter((c) => c !== 'help');
    expect(commands.length).toBeGreaterThan(20);
    const missing = commands.filter((c) => !new RegExp(`\`${c}[\` ]`).test(readme));
    expect(missing).toEqual([]);
  });
});
