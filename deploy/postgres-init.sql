-- Each service owns its database; the image creates "registration" itself.
CREATE DATABASE invoicing OWNER reglab;
CREATE DATABASE notifications OWNER reglab;
