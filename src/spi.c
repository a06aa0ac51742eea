/*
 * SPI bus registry: which controller object serves which devicetree node,
 * so that the driver of a device under the node (spi-nor) can reach it
 * through the OTT. Written only by controller probes on the boot hart
 * before other harts start, read by later probes: no lock.
 */
#include <kernel/spi.h>
#include <kernel/errno.h>

#define SPI_MAX_BUSES	8

static struct {
	int node;
	ott_ref_t ref;
} buses[SPI_MAX_BUSES];
static unsigned int nbuses;

int spi_bus_register(int node, ott_ref_t bus)
{
	ott_ref_t old;

	if (node < 0)
		return -KE_INVAL;
	if (!spi_bus_find(node, &old))
		return -KE_EXIST;
	if (nbuses >= SPI_MAX_BUSES)
		return -KE_NOSPC;
	buses[nbuses].node = node;
	buses[nbuses].ref = bus;
	nbuses++;
	return 0;
}

int spi_bus_find(int node, ott_ref_t *bus)
{
	for (unsigned int i = 0; i < nbuses; i++) {
		if (buses[i].node == node) {
			*bus = buses[i].ref;
			return 0;
		}
	}
	return -KE_NODEV;
}
