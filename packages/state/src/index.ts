export { type KVOp, type KVRange, type KVStore, MemoryKV } from './kv.ts';
export { type SmtProof, type SmtProofJson, verifyProof } from './smt-proof.ts';
