export * from './clock.port';
export * from './task-repository.port';
export * from './persistence-adapters.port';
export * from './execution-store.port';
export * from './lock-store.port';
