import { Module } from '@nestjs/common';
import { AgentAttachmentService } from './agent-attachment.service';
import { LockManager } from './lock-manager.service';

/**
 * Leases across processes and agent attachments to tasks. Needs LOCK_STORE and TASK_REPOSITORY
 * (PersistenceModule, global) and CLOCK (CoreModule, global).
 */
@Module({
  providers: [LockManager, AgentAttachmentService],
  exports: [LockManager, AgentAttachmentService],
})
export class LocksModule {}
