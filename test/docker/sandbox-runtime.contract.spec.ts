import { createDockerSandboxRuntime } from '../../src/adapters/docker';
import { describeSandboxRuntimeContract } from '../contract/sandbox-runtime.contract';
import { describeDocker, TEST_IMAGE, UNPULLABLE_IMAGE } from './engine';

describeDocker('docker runtime', () => {
  describeSandboxRuntimeContract('docker (real engine)', async () => {
    const runtime = await createDockerSandboxRuntime();
    return {
      runtime,
      image: TEST_IMAGE,
      missingImage: UNPULLABLE_IMAGE,
      close: () => runtime.close(),
    };
  });
});
