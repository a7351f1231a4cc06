import { MemorySandboxRuntime } from '../../src/adapters/memory/memory-sandbox.runtime';
import { describeSandboxRuntimeContract } from './sandbox-runtime.contract';

describeSandboxRuntimeContract('memory', async () => ({
  runtime: new MemorySandboxRuntime({ images: ['test-image:1'] }),
  image: 'test-image:1',
  missingImage: 'absent-image:1',
  close: async () => undefined,
}));
