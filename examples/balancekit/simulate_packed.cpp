// `balancekit balance --packing P`: one model per packing policy, compiled apart from the
// rest of the command line.
#include <string>

#include "simulate.hpp"

namespace bkcli {
namespace {
template <class Packing>
using with = balancekit::rules<balancekit::linux_defaults, balancekit::with_packing<Packing>>;
}  // namespace

int simulate_packed(const balance_options& o, const loaded& m, const cli_domains& tree) {
  using namespace balancekit::packing;
  if (o.packing == "conf0") return simulate<with<guittot<buddy_conf::conf0>>>(o, m, tree);
  if (o.packing == "conf1") return simulate<with<guittot<buddy_conf::conf1>>>(o, m, tree);
  if (o.packing == "conf2") return simulate<with<guittot<buddy_conf::conf2>>>(o, m, tree);
  if (o.packing == "topology") return simulate<with<guittot_topology<power_line::smt>>>(o, m, tree);
  if (o.packing == "shi-powersaving") return simulate<with<shi_power<shi_mode::powersaving>>>(o, m, tree);
  if (o.packing == "shi-balance") return simulate<with<shi_power<shi_mode::balance>>>(o, m, tree);
  if (o.packing == "utilization") return simulate<with<utilization_aware<80>>>(o, m, tree);
  fail("unknown --packing '" + o.packing + "'");
}

}  // namespace bkcli
