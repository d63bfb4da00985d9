/*
 * gen/catalog: the fixed tables the generator draws from.  Countries are
 * invented and use only the user-assigned ISO 3166-1 codes (XA..XZ, QM..QZ)
 * so no real state is ever named; regions are real Azure region ids; the
 * services and meters carry FOCUS 1.2 categories and invented prices.
 */
#include <string.h>

#include "gen/genInt.h"

const cu_gen_country cu_gen_countries[] = {
    {"XA", "Republic of Arvelia", "Arvelian"},
    {"XB", "Bortania", "Bortanian"},
    {"XC", "Calvessa", "Calvessan"},
    {"XD", "Dravonia", "Dravonian"},
    {"XE", "Estrellan Union", "Estrellan"},
    {"XF", "Fennmark", "Fennish"},
    {"XG", "Gallovia", "Gallovian"},
    {"XH", "Hestria", "Hestrian"},
    {"XI", "Isorra", "Isorran"},
    {"XJ", "Jorvandy", "Jorvandian"},
    {"XK", "Kelmoria", "Kelmorian"},
    {"XL", "Lunaris", "Lunarian"},
    {"XM", "Marovia", "Marovian"},
    {"XN", "Norrland Isles", "Norrish"},
    {"XO", "Ostrava Reach", "Ostravan"},
    {"XP", "Pellucia", "Pellucian"},
    {"XQ", "Quorvath", "Quorvathi"},
    {"XR", "Ruthenmark", "Ruthen"},
    {"XS", "Silvarra", "Silvarran"},
    {"XT", "Tessaly Coast", "Tessalian"},
    {"XU", "Umbria Nova", "Umbrian"},
    {"XV", "Velmora", "Velmoran"},
    {"XW", "Westmarch", "Westmarch"},
    {"XX", "Xandria", "Xandrian"},
    {"XY", "Yslandia", "Yslandic"},
    {"XZ", "Zerevia", "Zerevian"},
    {"QM", "Mirelund", "Mirelundic"},
    {"QN", "Nordavia", "Nordavian"},
    {"QO", "Orlesia", "Orlesian"},
    {"QP", "Palvania", "Palvanian"},
    {"QQ", "Qeshland", "Qeshi"},
    {"QR", "Rivenia", "Rivenian"},
    {"QS", "Sorvalle", "Sorvallan"},
    {"QT", "Tarvossa", "Tarvossan"},
    {"QU", "Ulmeria", "Ulmerian"},
    {"QV", "Varkesh", "Varkeshi"},
    {"QW", "Wendmoor", "Wendmoorish"},
    {"QX", "Xylandria", "Xylandrian"},
    {"QY", "Ystrava", "Ystravan"},
    {"QZ", "Zandovia", "Zandovian"},
};
const size_t cu_gen_ncountries = CU_ARRAY_LEN(cu_gen_countries);

const cu_gen_region cu_gen_regions[] = {
    {"westeurope", "West Europe", "NL"},
    {"northeurope", "North Europe", "IE"},
    {"swedencentral", "Sweden Central", "SE"},
    {"germanywestcentral", "Germany West Central", "DE"},
    {"francecentral", "France Central", "FR"},
    {"uksouth", "UK South", "GB"},
    {"ukwest", "UK West", "GB"},
    {"switzerlandnorth", "Switzerland North", "CH"},
    {"norwayeast", "Norway East", "NO"},
    {"polandcentral", "Poland Central", "PL"},
    {"italynorth", "Italy North", "IT"},
    {"spaincentral", "Spain Central", "ES"},
    {"eastus", "East US", "US"},
    {"eastus2", "East US 2", "US"},
    {"westus2", "West US 2", "US"},
    {"centralus", "Central US", "US"},
    {"southcentralus", "South Central US", "US"},
    {"canadacentral", "Canada Central", "CA"},
    {"brazilsouth", "Brazil South", "BR"},
    {"uaenorth", "UAE North", "AE"},
    {"southafricanorth", "South Africa North", "ZA"},
    {"centralindia", "Central India", "IN"},
    {"southeastasia", "Southeast Asia", "SG"},
    {"eastasia", "East Asia", "HK"},
    {"japaneast", "Japan East", "JP"},
    {"koreacentral", "Korea Central", "KR"},
    {"australiaeast", "Australia East", "AU"},
};
const size_t cu_gen_nregions = CU_ARRAY_LEN(cu_gen_regions);

/* Prices are invented, in micro-USD per pricing unit. */
const cu_gen_meter cu_gen_meters[] = {
    {"Azure Blob Storage", "Storage", "Object Storage", "Hot LRS Data Stored",
     "STR-BLOB-HOT-LRS", "Storage Account",
     "Microsoft.Storage/storageAccounts", "st", "GB-Month", "GB-Month", 1,
     18400, GEN_Q_STORAGE, 200, 60000},
    {"Azure Blob Storage", "Storage", "Object Storage",
     "Cool LRS Data Stored", "STR-BLOB-COOL-LRS", "Storage Account",
     "Microsoft.Storage/storageAccounts", "st", "GB-Month", "GB-Month", 1,
     10000, GEN_Q_STORAGE, 500, 120000},
    {"Azure Blob Storage", "Storage", "Object Storage", "Write Operations",
     "STR-BLOB-WRITE", "Storage Account",
     "Microsoft.Storage/storageAccounts", "st", "1K Requests", "1K Requests",
     1, 50000, GEN_Q_RATE, 50, 40000},
    {"Azure Files", "Storage", "Files", "Standard LRS Data Stored",
     "STR-FILES-LRS", "Storage Account", "Microsoft.Storage/storageAccounts",
     "fs", "GB-Month", "GB-Month", 1, 60000, GEN_Q_STORAGE, 50, 8000},
    {"Azure Managed Disks", "Storage", "Disk", "P30 LRS Disk",
     "STR-DISK-P30", "Disk", "Microsoft.Compute/disks", "disk", "GB-Month",
     "GB-Month", 1, 135000, GEN_Q_STORAGE, 128, 4096},
    {"Azure AI Speech", "AI and Machine Learning",
     "Natural Language Processing", "Speech to Text Standard Audio",
     "STR-SPEECH-STT", "Cognitive Services Account",
     "Microsoft.CognitiveServices/accounts", "speech", "Hours", "Hours", 1,
     1000000, GEN_Q_RATE, 1, 120},
    {"Azure AI Translator", "AI and Machine Learning",
     "Natural Language Processing", "Text Translation Standard Characters",
     "STR-TRANSLATOR-S1", "Cognitive Services Account",
     "Microsoft.CognitiveServices/accounts", "translate", "Characters",
     "1M Characters", 1000000, 10000000, GEN_Q_RATE, 20000, 4000000},
    {"Azure OpenAI Service", "AI and Machine Learning", "Generative AI",
     "GPT Input Tokens", "STR-AOAI-IN", "Cognitive Services Account",
     "Microsoft.CognitiveServices/accounts", "oai", "1K Tokens", "1K Tokens",
     1, 2500, GEN_Q_RATE, 100, 500000},
    {"Microsoft Defender for Cloud", "Security", "CSPM",
     "Defender for Servers Plan 2 Node", "STR-DEFENDER-SRV2", "Pricing Plan",
     "Microsoft.Security/pricings", "defender", "Hours", "Hours", 1, 20000,
     GEN_Q_RATE, 24, 4800},
    {"Microsoft Sentinel", "Security", "SIEM", "Analytics Logs Ingestion",
     "STR-SENTINEL-PAYG", "Log Analytics Workspace",
     "Microsoft.OperationalInsights/workspaces", "soc", "GB", "GB", 1,
     4300000, GEN_Q_RATE, 1, 300},
    {"Azure Key Vault", "Security", "Credentials", "Standard Operations",
     "STR-KV-OPS", "Key Vault", "Microsoft.KeyVault/vaults", "kv",
     "10K Operations", "10K Operations", 1, 30000, GEN_Q_RATE, 1, 500},
    {"Virtual Machines", "Compute", "Virtual Machines", "D4s v5",
     "STR-VM-D4SV5", "Virtual Machine", "Microsoft.Compute/virtualMachines",
     "vm", "Hours", "Hours", 1, 192000, GEN_Q_RATE, 8, 2400},
    {"Azure Kubernetes Service", "Compute", "Containers", "Standard Uptime SLA",
     "STR-AKS-SLA", "Kubernetes Cluster",
     "Microsoft.ContainerService/managedClusters", "aks", "Hours", "Hours", 1,
     100000, GEN_Q_RATE, 24, 240},
    {"Azure Functions", "Compute", "Serverless Compute", "Execution Time",
     "STR-FUNC-GBS", "Function App", "Microsoft.Web/sites", "func",
     "GB-Seconds", "GB-Seconds", 1, 16, GEN_Q_RATE, 1000, 5000000},
    {"Azure SQL Database", "Databases", "Relational", "vCore",
     "STR-SQL-VCORE", "SQL Database", "Microsoft.Sql/servers/databases",
     "sql", "Hours", "Hours", 1, 505000, GEN_Q_RATE, 24, 960},
    {"Azure Cosmos DB", "Databases", "NoSQL", "100 RU/s",
     "STR-COSMOS-RU", "Cosmos DB Account",
     "Microsoft.DocumentDB/databaseAccounts", "cosmos", "Hours", "Hours", 1,
     8000, GEN_Q_RATE, 24, 24000},
    {"Bandwidth", "Networking", "Data Transfer", "Data Transfer Out",
     "STR-BW-OUT", "Public IP Address", "Microsoft.Network/publicIPAddresses",
     "pip", "GB", "GB", 1, 87000, GEN_Q_RATE, 1, 20000},
    {"Azure Front Door", "Networking", "Content Delivery",
     "Data Transfer Out to Client", "STR-AFD-OUT", "Front Door Profile",
     "Microsoft.Cdn/profiles", "afd", "GB", "GB", 1, 83000, GEN_Q_RATE, 1,
     50000},
    {"Azure Load Balancer", "Networking", "Load Balancing", "Rules",
     "STR-LB-RULES", "Load Balancer", "Microsoft.Network/loadBalancers", "lb",
     "Hours", "Hours", 1, 25000, GEN_Q_RATE, 24, 240},
    {"Azure Monitor", "Management and Governance", "Observability",
     "Logs Ingestion", "STR-MON-LOGS", "Log Analytics Workspace",
     "Microsoft.OperationalInsights/workspaces", "log", "GB", "GB", 1,
     2760000, GEN_Q_RATE, 1, 100},
};
const size_t cu_gen_nmeters = CU_ARRAY_LEN(cu_gen_meters);

const char *const cu_gen_sectors[] = {
    "government", "defence", "health",  "finance", "retail",
    "education",  "energy",  "media",   "technology", "transport",
};
const size_t cu_gen_nsectors = CU_ARRAY_LEN(cu_gen_sectors);

const char *const cu_gen_first_names[] = {
    "Alira", "Bastien", "Corin",  "Dalia",  "Edvin",  "Fenna",  "Galen",
    "Hedda", "Ivo",     "Jessa",  "Kaspar", "Liora",  "Malik",  "Nerys",
    "Oskar", "Petra",   "Quillan", "Runa",  "Soren",  "Talia",  "Ulric",
    "Vesna", "Wendel",  "Xenia",  "Yannick", "Zora",  "Anouk",  "Brannor",
    "Cressa", "Dorian", "Elske",  "Falko",
};
const size_t cu_gen_nfirst = CU_ARRAY_LEN(cu_gen_first_names);

const char *const cu_gen_last_names[] = {
    "Aldervane", "Brightwater", "Castellor", "Dunmere",  "Elsworth",
    "Farrowdale", "Greystone",  "Halloran",  "Ironwood", "Jestermark",
    "Kettleby",  "Larkspur",    "Morrow",    "Nettlefield", "Oakhurst",
    "Pennywhistle", "Quarrington", "Ravensholt", "Stonebridge", "Thornbury",
    "Underhill", "Valcourt",    "Wexford",   "Yarrowby",  "Zellweger",
    "Ambervale", "Blackmere",   "Coldharbour",
};
const size_t cu_gen_nlast = CU_ARRAY_LEN(cu_gen_last_names);

int cu_gen_region_index(const char *id) {
  for (size_t i = 0; i < cu_gen_nregions; i++)
    if (strcmp(cu_gen_regions[i].id, id) == 0)
      return (int)i;
  return -1;
}

int cu_gen_meter_index(const char *meter) {
  for (size_t i = 0; i < cu_gen_nmeters; i++)
    if (strcmp(cu_gen_meters[i].meter, meter) == 0)
      return (int)i;
  return -1;
}

const char *cu_gen_region_alias(size_t region, uint64_t h) {
  /* Aliases as real exports spell them: the display name, the id in upper
   * case, or a legacy short code.  Only a few regions have short codes. */
  static const struct {
    const char *id, *upper, *short_;
  } al[] = {
      {"westeurope", "WESTEUROPE", "EU West"},
      {"northeurope", "NORTHEUROPE", "EU North"},
      {"eastus", "EASTUS", "US East"},
      {"swedencentral", "SWEDENCENTRAL", "SE Central"},
  };
  const cu_gen_region *r = &cu_gen_regions[region];
  for (size_t i = 0; i < CU_ARRAY_LEN(al); i++) {
    if (strcmp(al[i].id, r->id) != 0)
      continue;
    switch (h % 3) {
    case 0:
      return r->name;
    case 1:
      return al[i].upper;
    default:
      return al[i].short_;
    }
  }
  return r->name;
}
