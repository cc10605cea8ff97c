console.error('autoledger: the command-line interface is not built yet');
process.exitCode = 1;
