/* Console input and the command shell. */
#ifndef KERNEL_CONSOLE_H
#define KERNEL_CONSOLE_H
/* Hooks the console UART's receive interrupt (after the PLIC is bound). */
int console_start_rx(void);
/* Starts the shell thread reading commands from the console. */
void shell_start(void);
#endif
