/** add_node (set_node), update_node, remove_node, configure_cluster: shapes and messages as Harper 4.7. */
import { isOperationError, OperationError, type Logger, type OperationDefinition } from '../../../kernel/index.js';
import type { Cluster } from '../cluster.js';
import { parseNodeInput, parseNodeName, type NodeInput } from './node-input.js';

const FAILED_ALL = 'Failed to configure the cluster. Check the logs for more details.';
const PARTIAL =
  'Configure cluster was partially successful. Errors occurred when attempting to configure the following nodes. Check the logs for more details.';

function parseConnections(body: Record<string, unknown>): unknown[] {
  const { connections } = body;
  if (connections === undefined || connections === null) throw new OperationError(400, `'connections' is required`);
  if (!Array.isArray(connections)) throw new OperationError(400, `'connections' must be an array`);
  return connections;
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
  const configureCluster: OperationDefinition<{ connections: unknown[] }, unknown> = {
    name: 'configure_cluster',
    permission: 'super_user',
    input: (body) => ({ connections: parseConnections(body) }),
    handler: async ({ connections }) => {
      const results: { node_name?: string; response: string }[] = [];
      const failed: string[] = [];
      for (const [i, connection] of connections.entries()) {
        const body = typeof connection === 'object' && connection !== null ? (connection as Record<string, unknown>) : {};
        const label = String(body.hostname ?? body.node_name ?? body.name ?? body.url ?? `connections[${i}]`);
        try {
          results.push({ response: await cluster().addNode(parseNodeInput(body)) });
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
  return [addNode, updateNode, removeNode, configureCluster];
}
