#!/usr/bin/env python3
"""A pymodbus 3.0 server for the project's interoperability tests.

usage: pymodbus_server.py tcp <port> | rtu <serial-device>

Unit 1 only (other unit ids get no answer, like a device on a bus). Data, all 0-based (zero_mode=True):
  holding registers 0..199 = their own address; input registers 0..199 = 1000 + address;
  coils 0..99 = address % 3 == 0; discrete inputs 0..99 = address % 2 == 0.
Reading past address 199 (registers) or 99 (bits) gives exception 02.
"""
import logging
import sys

from pymodbus.datastore import ModbusSequentialDataBlock, ModbusSlaveContext, ModbusServerContext
from pymodbus.transaction import ModbusRtuFramer, ModbusSocketFramer

logging.basicConfig(level=logging.CRITICAL)

slave = ModbusSlaveContext(
    hr=ModbusSequentialDataBlock(0, list(range(200))),
    ir=ModbusSequentialDataBlock(0, [1000 + i for i in range(200)]),
    co=ModbusSequentialDataBlock(0, [i % 3 == 0 for i in range(100)]),
    di=ModbusSequentialDataBlock(0, [i % 2 == 0 for i in range(100)]),
    zero_mode=True,
)
context = ModbusServerContext(slaves={1: slave}, single=False)

mode, where = sys.argv[1], sys.argv[2]
print("ready", flush=True)
if mode == "tcp":
    from pymodbus.server import StartTcpServer
    StartTcpServer(context=context, address=("127.0.0.1", int(where)), framer=ModbusSocketFramer, allow_reuse_address=True)
else:
    from pymodbus.server import StartSerialServer
    StartSerialServer(context=context, framer=ModbusRtuFramer, port=where, baudrate=19200, bytesize=8, parity="N", stopbits=1, timeout=0.005)
