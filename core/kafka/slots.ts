/**
 * Transaction slots: the unit of ownership, fencing and commit of a transactional job.
 *
 * A job's input partitions are grouped into `slots` fixed slots (partition p is in slot p mod slots).
 * The group's assignor hands out whole slots, so exactly one member owns a slot at a time, and each
 * slot has its own transactional producer, `<prefix>.<slot>`: whoever owns the slot next (after a
 * crash or a rebalance, on any instance) fences the previous owner. All the batches a member fetched
 * for one slot in one fetch are committed together, in ONE transaction (outputs and input offsets),
 * instead of one transaction per partition — kafkajs spends milliseconds of CPU per request, so this
 * is most of a job's cost at low rates.
 *
 * One slot (the default) means one active instance per job and any others on standby; to share a job
 * between N instances, use at least N slots. kafkajs cannot fence by group generation (KIP-447), so
 * fencing by slot is what keeps a zombie instance from committing.
 */
import { AssignerProtocol, type PartitionAssigner } from 'kafkajs';

export function slotOf(partition: number, slots: number): number {
  return partition % slots;
}

export const SLOT_ASSIGNER_NAME = 'TributarySlots';

/** A kafkajs partition assigner that gives each member whole slots (round robin over sorted members). */
export function slotAssigner(slots: number): PartitionAssigner {
  return ({ cluster }) => ({
    name: `${SLOT_ASSIGNER_NAME}${slots}`,
    version: 0,
    assign({ members, topics }) {
      const sorted = members.map((m) => m.memberId).sort();
      const assignment = new Map<string, Record<string, number[]>>();
      for (const topic of topics) {
        for (const { partitionId } of cluster.findTopicPartitionMetadata(topic)) {
          const member = sorted[slotOf(partitionId, slots) % sorted.length];
          if (member === undefined) continue;
          const mine = assignment.get(member) ?? {};
          (mine[topic] ??= []).push(partitionId);
          assignment.set(member, mine);
        }
      }
      return Promise.resolve(
        sorted.map((memberId) => ({
          memberId,
          memberAssignment: AssignerProtocol.MemberAssignment.encode({
            version: 0,
            assignment: assignment.get(memberId) ?? {},
            userData: Buffer.alloc(0),
          }),
        })),
      );
    },
    protocol({ topics }) {
      return {
        name: `${SLOT_ASSIGNER_NAME}${slots}`,
        metadata: AssignerProtocol.MemberMetadata.encode({ version: 0, topics, userData: Buffer.alloc(0) }),
      };
    },
  });
}

/** The partitions a member was given, by topic, from its assignment (as `describeGroups` returns it). */
export function memberPartitions(memberAssignment: Buffer): Record<string, number[]> {
  return AssignerProtocol.MemberAssignment.decode(memberAssignment)?.assignment ?? {};
}
