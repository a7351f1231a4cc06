import { Module } from '@nestjs/common';
import { DumpExportService } from './dump-export.service';
import { DumpImportService } from './dump-import.service';

/**
 * Moving a data home between stores (`opencode-tools export` / `import`): a store-neutral dump
 * read through the persistence ports, written by the target family's importer.
 */
@Module({
  providers: [DumpExportService, DumpImportService],
  exports: [DumpExportService, DumpImportService],
})
export class TransferModule {}
