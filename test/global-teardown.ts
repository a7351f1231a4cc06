export default async function globalTeardown(): Promise<void> {
  globalThis.__OCT_PG__?.stop();
}
