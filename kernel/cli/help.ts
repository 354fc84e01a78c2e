/** `plexus help`. */
export const helpText = (version: string): string => `Plexus ${version}: a replicating database server speaking Harper 4.x's operations API

Usage: plexus [command] [--KEY value ...]

Commands:
  run       Run in the foreground (the default when only flags are given)
  start     Run in the background; output goes to <root>/log/plexus-stdout.log
  stop      Stop the background node (SIGTERM, then SIGKILL after 30 s)
  restart   stop, then start with the given flags
  status    Print whether the node is running (YAML)
  cluster   A local demo cluster: --nodes N (default 3) on 127.0.0.1… (or from
            --address), joined with add_node; Ctrl-C stops every node
  version   Print the version
  help      Print this text

Configuration:
  Every key of <root>/plexus-config.yaml, flattened as SECTION_SUB_KEY, can be
  given as --SECTION_SUB_KEY value, --SECTION_SUB_KEY=value or an environment
  variable of the same name (case-insensitive; the command line wins), e.g.
    --OPERATIONSAPI_NETWORK_PORT 127.0.0.2:9925    (operationsApi.network.port)
    --REPLICATION_ROUTES '["ws://server-b:9933"]'  (replication.routes)
    --LOGGING_LEVEL info                            (logging.level)
  Values are cast: numbers, true/false, null, and JSON {...} / [...]; anything
  else stays a string. A flag without a value means true. Overrides are written
  to the config file, so later starts keep them. Flags that name no Plexus key
  are ignored with a warning.

  --ROOTPATH <dir>              Data directory (default ~/plexus); never written
  --HDB_ADMIN_USERNAME <name>   Admin account created on first start; never written
  --HDB_ADMIN_PASSWORD <pass>
`;
