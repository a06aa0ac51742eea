# Kernel core. Pure logic (host-tested): page_pool kheap devtree ott log_format escape.
objs-y += entry.o main.o sbi.o trap.o smp.o vm.o mem.o tls.o errno.o
objs-y += spinlock.o unwind.o unwind_asm.o log.o log_format.o escape.o
objs-y += page_pool.o kheap.o devtree.o devtree_prop.o
objs-y += ott.o ott_miss.o factory.o
objs-y += thread.o kstack.o quiesce.o sched_rr.o
objs-y += driver.o irq.o console.o shell.o defer.o storage.o spi.o
objs-y += workload.o bench.o bench_update.o demo.o
# Networking: the TCP/IP stack (pure, host-tested) and its kernel glue (netif).
objs-y += net/stack.o net/eth_arp.o net/ipv4.o net/dhcp.o net/tcp.o net/tcp_in.o net/tcp_out.o
objs-y += net/netif.o
