import { CreateTasks1764000000000 } from './1764000000000-create-tasks';
import { CreateLocks1764200000000 } from './1764200000000-create-locks';

/** Every SQLite migration, oldest first. Append new ones; never edit a released one. */
export const SQLITE_MIGRATIONS = [CreateTasks1764000000000, CreateLocks1764200000000];
