# Devicetree-bound drivers; each declares its compatible strings itself.
objs-y += uart/ns16550.o uart/sifive_uart.o
objs-y += irq/plic.o
objs-y += timer/sbi_timer.o
objs-y += virtio/virtio_mmio.o
objs-y += net/virtio_net.o net/cadence_gem.o
objs-y += block/virtio_blk.o
objs-y += spi/sifive_spi.o mtd/spi_nor.o
