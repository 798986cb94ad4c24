// The running machine loads through hwloc.
#include <balancekit/adapters/hwloc.hpp>

#include <catch2/catch.hpp>

#include <iostream>
#include <memory>

using namespace balancekit;

TEST_CASE("the host machine loads through hwloc", "[topology][hwloc]") {
  auto t = std::make_unique<topology<large_limits>>();
  hwloc::import_report report;
  const status s = hwloc::load_host(*t, &report);
  INFO((s ? std::string("ok") : std::string(s.error_value().message.view())));
  REQUIRE(s.ok());
  CHECK(t->nr_cpus() >= 1);
  CHECK(t->online().weight() == t->nr_cpus());
  CHECK(t->count(hw_level::node) >= 1);
  CHECK(report.source == "host");
  std::cout << "host: " << t->nr_cpus() << " CPUs, " << t->count(hw_level::core) << " cores, "
            << t->count(hw_level::llc) << " LLCs, " << t->count(hw_level::package) << " packages, "
            << t->count(hw_level::node) << " nodes\n";
}
