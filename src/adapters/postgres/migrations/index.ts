import { CreateTasks1764000000000 } from './1764000000000-create-tasks';
import { CreateLocks1764200000000 } from './1764200000000-create-locks';

/** Every Postgres migration, oldest first. Append new ones; never edit a released one. */
export const POSTGRES_MIGRATIONS = [CreateTasks1764000000000, CreateLocks1764200000000];
