/** add_node (set_node), update_node, remove_node, configure_cluster: shapes and messages as Harper 4.7. */
import { isOperationError, isPlainObject, OperationError, type Logger, type OperationDefinition } from '../../../kernel/index.js';
import type { Cluster } from '../cluster.js';
import { parseNodeInput, parseNodeName, type NodeInput } from './node-input.js';

const FAILED_ALL = 'Failed to configure the cluster. Check the logs for more details.';
const PARTIAL =
  'Configure cluster was partially successful. Errors occurred when attempting to configure the following nodes. Check the logs for more details.';

/** Every connection is checked up front: a malformed one is the caller's error (400), not a failed join. */
function parseConnections(body: Record<string, unknown>): { label: string; input: NodeInput }[] {
  const { connections } = body;
  if (connections === undefined || connections === null) throw new OperationError(400, `'connections' is required`);
  if (!Array.isArray(connections)) throw new OperationError(400, `'connections' must be an array`);
  return connections.map((connection: unknown, i) => {
    if (!isPlainObject(connection)) throw new OperationError(400, `'connections[${i}]' must be an object`);
    try {
      const input = parseNodeInput(connection);
      return { label: input.hostname ?? input.url!, input };
    } catch (error) {
      if (isOperationError(error)) throw new OperationError(400, `connections[${i}]: ${error.message}`);
      throw error;
    }
  });
}

export function nodeOperations(cluster: () => Cluster, logger: Logger): OperationDefinition<any, any>[] {
  const addNode: OperationDefinition<NodeInput, { message: string }> = {
    name: 'add_node',
    aliases: ['set_node'],
    permission: 'super_user',
    input: parseNodeInput,
    handler: async (input) => ({ message: await cluster().addNode(input) }),
  };
  const updateNode: OperationDefinition<NodeInput, { message: string }> = {
    name: 'update_node',
    // Harper 4.x's older name for it.
    aliases: ['set_node_replication'],
    permission: 'super_user',
    input: parseNodeInput,
    handler: async (input) => ({ message: await cluster().updateNode(input) }),
  };
  const removeNode: OperationDefinition<{ name: string }, { message: string }> = {
    name: 'remove_node',
    permission: 'super_user',
    input: (body) => ({ name: parseNodeName(body) }),
    handler: async ({ name }) => ({ message: await cluster().removeNode(name) }),
  };
  const configureCluster: OperationDefinition<{ connections: { label: string; input: NodeInput }[] }, unknown> = {
    name: 'configure_cluster',
    permission: 'super_user',
    input: (body) => ({ connections: parseConnections(body) }),
    handler: async ({ connections }) => {
      const results: { node_name?: string; response: string }[] = [];
      const failed: string[] = [];
      for (const { label, input } of connections) {
        try {
          results.push({ response: await cluster().addNode(input) });
        } catch (error) {
          const message = isOperationError(error) || error instanceof Error ? error.message : String(error);
          logger.warn('configure_cluster could not add a node', { node: label, error: message });
          failed.push(label);
          results.push({ node_name: label, response: message });
        }
      }
      if (connections.length > 0 && failed.length === connections.length) throw new OperationError(500, FAILED_ALL);
      if (failed.length > 0) return { message: PARTIAL, failed_nodes: failed, connections: results };
      return { message: 'Configure cluster complete.', connections: results };
    },
  };
  // NATS-era operations: Harper 4.7 in replication mode (no NATS clustering) answers them with this 400.
  const natsOnly = (name: string): OperationDefinition<unknown, never> => ({
    name,
    permission: 'super_user',
    handler: () => {
      throw new OperationError(400, 'Clustering must be enabled to perform this operation.');
    },
  });
  return [addNode, updateNode, removeNode, configureCluster, natsOnly('cluster_network'), natsOnly('purge_stream')];
}
