import { CreateTasks1764000000000 } from './1764000000000-create-tasks';
import { CreateLocks1764200000000 } from './1764200000000-create-locks';
import { CreateTaskMemory1764300000000 } from './1764300000000-create-task-memory';
import { CreateRuntimeRecords1764900000000 } from './1764900000000-create-runtime-records';

/** Every Postgres migration, oldest first. Append new ones; never edit a released one. */
export const POSTGRES_MIGRATIONS = [
  CreateTasks1764000000000,
  CreateLocks1764200000000,
  CreateTaskMemory1764300000000,
  CreateRuntimeRecords1764900000000,
];
