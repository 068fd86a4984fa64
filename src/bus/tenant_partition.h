#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>

namespace fathom::bus {

/// The Kafka message key of a tenant's batches: its id in decimal ASCII ("42"), so tools such
/// as kcat show which tenant a message belongs to. Points into `buffer`.
std::string_view tenant_key(uint32_t tenant_id, std::array<char, 10>& buffer) noexcept;

/// Kafka's Java-client murmur2 (seed 0x9747b28c) of `key`, the hash of the Java producer's
/// default partitioner and of librdkafka's `partitioner=murmur2`.
uint32_t murmur2(std::span<const std::byte> key) noexcept;

/// The partition of `tenant_id`'s batches in a topic of `partition_count` partitions (at
/// least 1): `(murmur2(tenant_key) & 0x7fffffff) % partition_count`, exactly what the
/// producer's `partitioner=murmur2` computes, so collectors written in any language agree,
/// and an analyzer can tell which tenants an assigned partition carries.
int32_t tenant_partition(uint32_t tenant_id, int32_t partition_count) noexcept;

}  // namespace fathom::bus
