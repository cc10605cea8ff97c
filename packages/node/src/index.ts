export { type Block, type BlockHeader, decodeBlock, decodeHeader, headerToJson } from './chain/block.ts';
export {
  directoryChunks,
  exportSnapshotFile,
  importSnapshot,
  listSnapshots,
  openSnapshotFile,
  type SnapshotErrorCode,
  type SnapshotManifest,
  snapshotsDir,
  writeSnapshotOfStore,
} from './chain/snapshot.ts';
export {
  CONFIG_FILE,
  ConfigError,
  DEFAULT_CONFIG,
  loadNodeConfig,
  type NodeConfig,
  parseHostPort,
  parseNodeConfig,
  resolveHomePath,
} from './config.ts';
export { type ChainGenesis, canonicalJson, GenesisError, loadGenesisFile, loadGenesisJson } from './genesis.ts';
export { LevelKV } from './level-kv.ts';
export { createLogger, isLogLevel, type Logger, type LogLevel, silentLogger } from './log.ts';
export { AutoledgerNode, NODE_KEY_PASSPHRASE_ENV } from './node.ts';
export { ed25519PublicKeyFromPeerId, peerIdFromEd25519PublicKey } from './p2p.ts';
// Reports are verified with the client's verifier (@autoledger/client verifyVehicleReport).
export { buildVehicleReport, VEHICLE_REPORT_FORMAT, type VehicleReport } from './report.ts';
export { buildConfigSchema, configSchemaProblems } from './schemas/config-schema.ts';
export { GENESIS_SCHEMA, genesisSchemaProblems } from './schemas/genesis-schema.ts';
export { formatSchemaProblems, type JsonSchema, type SchemaProblem } from './schemas/validate.ts';
export { VERSION } from './version.ts';
