objs-y += platform.o
