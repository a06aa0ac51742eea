# Live update: module loading, version chains, hot-swap, lazy update.
objs-y += export.o
