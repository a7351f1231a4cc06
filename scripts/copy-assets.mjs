// Copies the dashboard's static files next to the compiled module (tsc copies only .ts output).
import { cpSync, rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const from = join(root, 'src/modules/dashboard/assets');
const to = join(root, 'dist/modules/dashboard/assets');
rmSync(to, { recursive: true, force: true });
cpSync(from, to, { recursive: true });
