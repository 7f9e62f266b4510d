// crmctl: the CRM's command-line client. All logic is in clients/cli.h.
#include <iostream>

#include "clients/cli.h"

int main(int argc, char** argv) {
  return crm::client::RunCli(argc, argv, std::cout, std::cerr);
}
